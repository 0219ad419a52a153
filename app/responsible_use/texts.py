"""The default wording a new setting starts from; each setting's manager can change it."""

from __future__ import annotations

# Built from the points of our own policy; a setting publishes its own version on top.
DEFAULT_USAGE_POLICY = """\
Learning journals hold children's records and photos. By using them you agree to:

1. Choose a password you use nowhere else. A password manager can make and remember one for you.
2. Never share your password or PIN with anyone, and never write them down.
3. Sign out when you have finished, and tick "shared or public computer" when you sign in \
on a computer other people use.
4. Keep your email address up to date, so that messages about your account reach you.
5. Not share anything from the journals on social media or elsewhere online, above all \
photos or words about other children.
6. Tell the setting at once if you think someone else has used your account."""

DEFAULT_SHARING_RULE = (
    "Please don't share photos of other children online. "
    "Photos and observations are for you and your family to keep."
)
