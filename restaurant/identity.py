"""One form of an account's email, for storing it, finding it and counting guesses at it.

`account_key` is Unicode's NFKC_Casefold, the identifier folding of UAX #31 / RFC 8265 kept
simple: NFKC, full case folding, NFKC again (folding can undo a composition). Compatibility
look-alikes fold together (`ＣＨＥＦ` and `chef`, the Kelvin sign and `k`, `ſ` and `s`,
`ß` and `ss`); letters that are other letters stay apart: the dotless `ı` is not `i`, so
`maıl.example` is another domain than `mail.example`, as it is in DNS.

The `email` column holds exactly this form, so its unique index is uniqueness of the
identity, and an exact lookup on it is the only lookup there is (no `iexact`, whose
database-side case mapping differs from Python's).
"""

import unicodedata

from django import forms


def account_key(email: str) -> str:
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


class AccountEmailField(forms.EmailField):
    """A form's email of an account: folded to `account_key` before it is validated, so that
    a look-alike spelling is checked (and refused, or found) as the account it names."""

    def to_python(self, value):
        value = super().to_python(value)
        return account_key(value) if value else value
