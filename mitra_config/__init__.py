"""Configuration shared by the bot-side processes (Rasa channel, action server, scripts).

Environment variables are the only source at run time; ``mitra_config.dotenv`` layers
them (process environment, then ``.env``, then ``.env.example``) for the launchers.
"""
