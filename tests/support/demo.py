"""WhatsApp ids of the demo fixtures (docs/architecture.md): the seed, the sandbox's web
phone, the tests and the benchmarks all rely on them."""

BUDI = "6281200000001"  # Gold, Indonesian, points expiring within 30 days
SARAH = "6281200000002"  # Silver, English
ANDI = "6281200000003"  # Platinum distributor
RINA = "6281200000004"  # new: zero points, no history
JOKO = "6281200000005"  # opted out of proactive messages
STRANGER = "6289900000000"  # not a partner
FIXTURES = (BUDI, SARAH, ANDI, RINA, JOKO)
