"""Rendering Rasa responses into Cloud API payloads, with WhatsApp's limits enforced."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.whatsapp_render import (
    BODY_MAX,
    RenderError,
    mark_as_read_payload,
    render_response,
    split_text,
)

TO = "6281200000001"


def buttons(n: int, title: str = "Pilihan", payload: str = "/pick") -> list[dict[str, Any]]:
    return [{"title": f"{title} {i}", "payload": f"{payload}_{i}"} for i in range(1, n + 1)]


def test_plain_text() -> None:
    (payload,) = render_response(TO, {"text": "Halo Budi!"})
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "text",
        "text": {"body": "Halo Budi!", "preview_url": False},
    }


@pytest.mark.parametrize(
    ("recipient_id", "fields"),
    [
        ("6281200000001", {"to": "6281200000001"}),
        ("ID.13491208655302741918", {"recipient": "ID.13491208655302741918"}),
        ("US.ENT.11815799212886844830", {"recipient": "US.ENT.11815799212886844830"}),
        ("test-user-1a2b3c4d", {"to": "test-user-1a2b3c4d"}),  # sandbox test users
    ],
)
def test_recipient_addressing(recipient_id: str, fields: dict[str, str]) -> None:
    """Do not assume the sender id is a phone number: BSUIDs go in `recipient`."""
    (payload,) = render_response(recipient_id, {"text": "Halo"})
    assert {k: payload[k] for k in ("to", "recipient") if k in payload} == fields


def test_up_to_three_buttons_are_reply_buttons_with_truncation() -> None:
    long_payload = "/redeem_reward" + "x" * 300
    response = {
        "text": "Mau apa hari ini?",
        "buttons": [
            {"title": "Cek poin", "payload": "/check_balance"},
            {"title": "Tukar poin dengan hadiah menarik", "payload": "/redeem"},
            {"title": "Bantuan", "payload": long_payload},
        ],
    }
    (payload,) = render_response(TO, response)
    interactive = payload["interactive"]
    assert payload["type"] == "interactive"
    assert interactive["type"] == "button"
    assert interactive["body"] == {"text": "Mau apa hari ini?"}
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert all(b["type"] == "reply" for b in interactive["action"]["buttons"])
    assert [r["id"] for r in replies[:2]] == ["/check_balance", "/redeem"]
    assert replies[0]["title"] == "Cek poin"
    assert replies[1]["title"] == "Tukar poin dengan h…"
    assert len(replies[1]["title"]) == 20
    assert all(len(r["title"]) <= 20 for r in replies)
    assert len(replies[2]["id"]) == 256
    assert replies[2]["id"] == long_payload[:256]


def test_quick_replies_render_like_buttons() -> None:
    (payload,) = render_response(TO, {"text": "Ya?", "quick_replies": buttons(2)})
    assert payload["interactive"]["type"] == "button"


def test_four_to_ten_buttons_make_a_list_with_limits() -> None:
    items = [
        {"title": "Voucher belanja 50rb di Indomaret", "payload": '/redeem{"r": 1}'},
        {"title": "Pulsa 25rb", "payload": '/redeem{"r": 2}'},
        {"title": "X" * 40, "payload": '/redeem{"r": 3}'},
        {
            "title": "Paket data 10GB untuk semua operator seluler di Indonesia "
            "berlaku tiga puluh hari sejak aktivasi pertama kali",
            "payload": '/redeem{"r": 4}',
        },
    ] + buttons(6)
    response = {
        "text": "Pilih hadiah:",
        "buttons": items,
        "custom": {
            "whatsapp_options": {"list_button": "Pilih hadiah sekarang juga", "header": "H" * 80}
        },
    }
    (payload,) = render_response(TO, response)
    interactive = payload["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"]["text"] == "Pilih hadiah:"
    assert len(interactive["header"]["text"]) == 60
    assert interactive["action"]["button"] == "Pilih hadiah sekara…"
    rows = interactive["action"]["sections"][0]["rows"]
    assert len(rows) == 10
    assert all(len(r["title"]) <= 24 for r in rows)
    assert all(len(r.get("description", "")) <= 72 for r in rows)
    assert all(len(r["id"]) <= 200 for r in rows)
    # The part of a long title after 24 characters becomes the description.
    assert rows[0] == {
        "id": '/redeem{"r": 1}',
        "title": "Voucher belanja 50rb di",
        "description": "Indomaret",
    }
    assert rows[1] == {"id": '/redeem{"r": 2}', "title": "Pulsa 25rb"}
    assert rows[2]["title"] == "X" * 24 and rows[2]["description"] == "X" * 16
    assert rows[3]["description"].endswith("…")
    assert [r["id"] for r in rows[4:]] == [f"/pick_{i}" for i in range(1, 7)]


def test_list_button_defaults_to_menu() -> None:
    (payload,) = render_response(TO, {"text": "Menu", "buttons": buttons(4)})
    assert payload["interactive"]["action"]["button"] == "Menu"
    assert "header" not in payload["interactive"]


def test_more_than_ten_buttons_show_nine_and_a_more_row() -> None:
    (payload,) = render_response(TO, {"text": "Semua hadiah", "buttons": buttons(14)})
    rows = payload["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 10
    assert [r["id"] for r in rows[:9]] == [f"/pick_{i}" for i in range(1, 10)]
    assert rows[9]["id"] == "/menu"
    assert rows[9]["title"] == "Lainnya / More"


def test_more_row_can_be_configured() -> None:
    response = {
        "text": "x",
        "buttons": buttons(11),
        "custom": {
            "whatsapp_options": {"more_title": "More rewards", "more_payload": "/rewards_page_2"}
        },
    }
    (payload,) = render_response(TO, response)
    last = payload["interactive"]["action"]["sections"][0]["rows"][-1]
    assert last == {"id": "/rewards_page_2", "title": "More rewards"}


def test_long_text_split_at_boundaries_without_losing_text() -> None:
    paragraph = ("Poin Anda akan kedaluwarsa bulan depan. " * 12).strip()  # ~480 chars
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(10))  # ~5000 chars
    assert 4500 < len(text) < 5500
    payloads = render_response(TO, {"text": text})
    bodies = [p["text"]["body"] for p in payloads]
    assert len(bodies) == 2
    assert all(len(b) <= 4096 for b in bodies)
    # Cut at a paragraph boundary: the second chunk starts a numbered paragraph.
    assert bodies[1][0].isdigit() and bodies[1][1:3] == ". "
    assert bodies[0].endswith(".")
    assert "".join(bodies).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )
    assert " ".join(bodies).split() == text.split()


def test_split_prefers_lines_then_sentences_then_words() -> None:
    lines = "\n".join(f"baris {i:04d} " + "kata " * 10 for i in range(200))
    chunks = split_text(lines, 4096)
    assert all(len(c) <= 4096 for c in chunks)
    assert all(c.startswith("baris ") for c in chunks)
    assert " ".join(chunks).split() == lines.split()

    sentences = " ".join(f"Kalimat nomor {i} selesai di sini." for i in range(300))
    chunks = split_text(sentences, 4096)
    assert len(chunks) > 1
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks).split() == sentences.split()

    words = " ".join(["poin"] * 2000)
    chunks = split_text(words, 4096)
    assert all(len(c) <= 4096 and not c.endswith(" ") for c in chunks)
    assert " ".join(chunks).split() == words.split()


def test_split_hard_cuts_a_single_huge_word_without_loss() -> None:
    blob = "a" * 9000
    chunks = split_text(blob, 4096)
    assert [len(c) for c in chunks] == [4096, 4096, 808]
    assert "".join(chunks) == blob


def test_long_text_with_buttons_keeps_body_within_limit() -> None:
    text = "\n".join(f"Baris informasi nomor {i} tentang program loyalitas." for i in range(60))
    assert len(text) > BODY_MAX
    payloads = render_response(TO, {"text": text, "buttons": buttons(2)})
    assert [p["type"] for p in payloads] == ["text", "interactive"]
    body = payloads[-1]["interactive"]["body"]["text"]
    assert len(body) <= BODY_MAX
    sent = payloads[0]["text"]["body"] + "\n" + body
    assert sent.split() == text.split()


def test_buttons_without_text_still_have_a_body() -> None:
    (payload,) = render_response(TO, {"buttons": buttons(2)})
    assert payload["interactive"]["body"]["text"]


def test_image_by_url_and_by_media_id() -> None:
    (by_url,) = render_response(TO, {"image": "https://cdn.example.com/rewards/voucher.png"})
    assert by_url["type"] == "image"
    assert by_url["image"] == {"link": "https://cdn.example.com/rewards/voucher.png"}
    (by_id,) = render_response(TO, {"image": "1234567890123456"})
    assert by_id["image"] == {"id": "1234567890123456"}


def test_text_then_image_in_order() -> None:
    payloads = render_response(TO, {"text": "Ini hadiahnya", "image": "https://x.test/a.jpg"})
    assert [p["type"] for p in payloads] == ["text", "image"]


def test_document_attachment() -> None:
    (payload,) = render_response(TO, {"attachment": "https://x.test/docs/Syarat%20Program.pdf"})
    assert payload["type"] == "document"
    assert payload["document"] == {
        "link": "https://x.test/docs/Syarat%20Program.pdf",
        "filename": "Syarat Program.pdf",
    }
    (payload,) = render_response(
        TO,
        {
            "attachment": {
                "type": "document",
                "id": "998877",
                "caption": "Katalog",
                "filename": "k.pdf",
            }
        },
    )
    assert payload["document"] == {"id": "998877", "caption": "Katalog", "filename": "k.pdf"}


def test_template_with_components() -> None:
    components = [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Budi"}, {"type": "text", "text": "1.250"}],
        }
    ]
    custom = {
        "whatsapp_template": {
            "name": "points_expiring",
            "language": "id",
            "components": components,
        }
    }
    (payload,) = render_response(TO, {"custom": custom})
    assert payload["type"] == "template"
    assert payload["to"] == TO
    assert payload["template"] == {
        "name": "points_expiring",
        "language": {"code": "id"},
        "components": components,
    }


def test_template_with_parameters_shortcut() -> None:
    custom = {
        "whatsapp_template": {
            "name": "claim_approved",
            "language": "en",
            "parameters": ["Sarah", 500],
        }
    }
    (payload,) = render_response(TO, {"custom": custom})
    assert payload["template"]["components"] == [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Sarah"}, {"type": "text", "text": "500"}],
        }
    ]
    named = {"whatsapp_template": {"name": "t", "parameters": {"name": "Budi"}}}
    (payload,) = render_response(TO, {"custom": named})
    assert payload["template"]["language"] == {"code": "id"}
    assert payload["template"]["components"][0]["parameters"] == [
        {"type": "text", "parameter_name": "name", "text": "Budi"}
    ]


def test_template_without_name_is_an_error() -> None:
    with pytest.raises(RenderError):
        render_response(TO, {"custom": {"whatsapp_template": {"language": "id"}}})


def test_custom_whatsapp_passthrough() -> None:
    raw = {
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "body": {"text": "Lihat katalog"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Buka", "url": "https://x.test"},
            },
        },
    }
    (payload,) = render_response(TO, {"custom": {"whatsapp": raw}})
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        **raw,
    }


def test_passthrough_cannot_redirect_the_message() -> None:
    raw = {"type": "text", "text": {"body": "x"}, "to": "6289900000000"}
    (payload,) = render_response(TO, {"custom": {"whatsapp": raw}})
    assert payload["to"] == TO


def test_passthrough_list_and_options_only() -> None:
    items = [{"type": "text", "text": {"body": "a"}}, {"type": "text", "text": {"body": "b"}}]
    assert [p["text"]["body"] for p in render_response(TO, {"custom": {"whatsapp": items}})] == [
        "a",
        "b",
    ]
    assert render_response(TO, {"custom": {"whatsapp_options": {"list_button": "Pilih"}}}) == []


def test_rasa_bot_uttered_shape() -> None:
    """BotUttered.message() carries None values and extra keys; they are ignored."""
    message = {
        "text": "Halo",
        "elements": None,
        "quick_replies": None,
        "buttons": None,
        "attachment": None,
        "image": None,
        "custom": None,
        "timestamp": 1732500000.0,
        "utter_action": "utter_greet",
    }
    assert [p["type"] for p in render_response(TO, message)] == ["text"]


def test_elements_render_as_text_and_buttons() -> None:
    message = {
        "elements": [
            {"title": "Voucher 50rb", "subtitle": "5.000 poin", "buttons": buttons(1)},
            {"title": "Pulsa 25rb"},
        ]
    }
    payloads = render_response(TO, message)
    assert [p["type"] for p in payloads] == ["interactive", "text"]
    assert payloads[0]["interactive"]["body"]["text"] == "Voucher 50rb\n5.000 poin"


def test_mark_as_read() -> None:
    assert mark_as_read_payload("wamid.X") == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.X",
    }
    assert mark_as_read_payload("wamid.X", typing_indicator=True)["typing_indicator"] == {
        "type": "text"
    }


# ------------------------------------------------------------------ list sections


def reward_row(code: str, section: str | None, title: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "title": title or f"Hadiah {code}",
        "payload": f'/redeem_reward{{"reward_code": "{code}"}}',
        "description": "1.000 poin · ✅ bisa ditukar",
    }
    if section is not None:
        row["section"] = section
    return row


def test_consecutive_buttons_with_the_same_section_make_one_section() -> None:
    items = [
        reward_row("PULSA-25K", "E-wallet & pulsa"),
        reward_row("VCR-50K", "Voucher belanja"),
        reward_row("VCR-100K", "Voucher belanja"),
        reward_row("KAOS-MITRA", "Merchandise"),
        {"title": "Lainnya", "payload": '/more_rewards{"page_offset": 9}', "section": "Lainnya"},
    ]
    (payload,) = render_response(TO, {"text": "Katalog", "buttons": items})
    sections = payload["interactive"]["action"]["sections"]
    assert [s["title"] for s in sections] == [
        "E-wallet & pulsa", "Voucher belanja", "Merchandise", "Lainnya"]
    assert [len(s["rows"]) for s in sections] == [1, 2, 1, 1]
    assert sections[1]["rows"][0] == {
        "id": '/redeem_reward{"reward_code": "VCR-50K"}',
        "title": "Hadiah VCR-50K",
        "description": "1.000 poin · ✅ bisa ditukar",
    }
    assert "section" not in str(sections[0]["rows"])  # the key is not sent to WhatsApp


def test_section_titles_are_cut_to_24_characters() -> None:
    items = [reward_row("RAK", "Perlengkapan usaha & toko grosir"), reward_row("X", "B"),
             reward_row("Y", "C"), reward_row("Z", "D")]
    (payload,) = render_response(TO, {"text": "x", "buttons": items})
    title = payload["interactive"]["action"]["sections"][0]["title"]
    assert len(title) == 24 and title.endswith("…")


def test_sectioned_buttons_are_a_list_even_when_few() -> None:
    """Sections exist only in lists: one to three sectioned buttons are list rows."""
    (payload,) = render_response(TO, {"text": "Bisa ditukar:", "buttons": [
        reward_row("PULSA-25K", "Bisa ditukar sekarang")]})
    assert payload["interactive"]["type"] == "list"
    [section] = payload["interactive"]["action"]["sections"]
    assert section["title"] == "Bisa ditukar sekarang" and len(section["rows"]) == 1
    # Without sections, three buttons stay reply buttons.
    (payload,) = render_response(TO, {"text": "x", "buttons": buttons(3)})
    assert payload["interactive"]["type"] == "button"


def test_ten_rows_in_total_across_sections() -> None:
    items = [reward_row(f"R{i}", f"Jenis {i // 4}") for i in range(12)]
    (payload,) = render_response(TO, {"text": "x", "buttons": items})
    sections = payload["interactive"]["action"]["sections"]
    assert sum(len(s["rows"]) for s in sections) == 10
    assert [s["title"] for s in sections] == ["Jenis 0", "Jenis 1", "Jenis 2", "Lainnya / More"]
    assert sections[-1]["rows"] == [{"id": "/menu", "title": "Lainnya / More"}]


def test_rows_without_a_section_among_sectioned_ones_get_a_title() -> None:
    items = [reward_row("A", "Voucher"), reward_row("B", None), reward_row("C", None),
             reward_row("D", "Voucher")]
    (payload,) = render_response(TO, {"text": "x", "buttons": items})
    sections = payload["interactive"]["action"]["sections"]
    assert [s["title"] for s in sections] == ["Voucher", "Lainnya / More", "Voucher"]
    assert all(s.get("title") for s in sections)  # WhatsApp: required with 2+ sections


def test_one_unsectioned_list_keeps_the_configured_section_title() -> None:
    response = {"text": "x", "buttons": buttons(5),
                "custom": {"whatsapp_options": {"section_title": "Menu utama"}}}
    (payload,) = render_response(TO, response)
    [section] = payload["interactive"]["action"]["sections"]
    assert section["title"] == "Menu utama" and len(section["rows"]) == 5
    (payload,) = render_response(TO, {"text": "x", "buttons": buttons(5)})
    assert "title" not in payload["interactive"]["action"]["sections"][0]
