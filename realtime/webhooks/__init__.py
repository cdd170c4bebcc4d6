"""Signed webhooks (Standard Webhooks) fed from the outbox.

models: endpoints, their deliveries and each delivery's attempts (in the `realtime` app).
ssrf: where a delivery may connect. signing: the body and headers of a delivery.
delivery: one attempt over HTTP. worker: claiming endpoints and delivering in event order.
services: the admin's state changes (replay, resume, new secret). admin: the managers' view.
"""
