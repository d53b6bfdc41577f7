"""Messaging connectors for Mitra's Rasa server (WhatsApp Cloud API).

Rasa loads the channel from ``credentials.yml`` as
``connectors.whatsapp_connector.WhatsAppInput``.
"""
