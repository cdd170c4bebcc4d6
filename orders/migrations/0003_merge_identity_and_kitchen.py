# Joins two migrations written side by side: one account identity (issue 11) and kitchen
# operations (issue 14). They touch different models.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_kitchen_operations"),
        ("orders", "0002_user_email_normalized"),
    ]

    operations = []
