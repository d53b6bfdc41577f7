"""Tests of the WhatsApp Cloud API connector (connectors/)."""
