"""Every stored email becomes its `account_key` (NFKC, case folded), the one form that logins,
lookups and login throttles use, so that the unique index on `email` is uniqueness of the
identity. Two existing accounts whose emails fold to one form cannot both keep theirs: the
migration then stops, changes nothing, and names them."""

from django.db import migrations, models

from restaurant.identity import account_key


class EmailCollision(RuntimeError):
    pass


def normalize_emails(apps, schema_editor):
    User = apps.get_model("orders", "User")
    by_key: dict[str, list] = {}
    for pk, email in User.objects.values_list("pk", "email").order_by("pk"):
        by_key.setdefault(account_key(email), []).append((pk, email))
    clashes = {key: rows for key, rows in by_key.items() if len(rows) > 1}
    if clashes:
        lines = [
            f"  {key!r}: " + ", ".join(f"{email!r} (id {pk})" for pk, email in rows)
            for key, rows in sorted(clashes.items())
        ]
        raise EmailCollision(
            "Cannot make emails unique in their normalised form (NFKC + case folding): these "
            "accounts would become the same identity:\n" + "\n".join(lines) + "\n"
            "Change the email of all but one account of each group (or delete the duplicates), "
            "then run `manage.py migrate` again. Nothing was changed."
        )
    for key, [(pk, email)] in by_key.items():
        if key != email:
            User.objects.filter(pk=pk).update(email=key)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.RunPython(normalize_emails, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.EmailField(
                error_messages={"unique": "This email cannot be used."}, max_length=254, unique=True
            ),
        ),
    ]
