"""The shopper's cards: billing keys issued, sealed, opened under audit, and destroyed when unused.

cards (authKey → sealed billing key, releasing keys nobody needs), vault (AES-256-GCM sealing
and the audited opening).
"""
