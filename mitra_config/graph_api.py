"""Where Meta's Graph API is, unless ``WHATSAPP_API_BASE_URL`` / ``WHATSAPP_API_VERSION``
say otherwise: the connector sends through it, the action server downloads media from it."""

GRAPH_API_BASE_URL = "https://graph.facebook.com"
GRAPH_API_VERSION = "v21.0"
