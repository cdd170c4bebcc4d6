"""Station printers: ESC/POS tickets over raw TCP (port 9100), fed from the outbox.

models: printers per station and their print jobs (in the `realtime` app). tickets: which
events print what, and the ESC/POS bytes (python-escpos). transport: where a job may be
sent, and sending it. worker: claiming printers (realtime/leasing.py) and printing in event
order. admin: the managers' view.
"""
