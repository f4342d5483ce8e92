"""What ``GET /api`` answers a client that does not ask for HTML.

Copr's clients (and coprd's own 401 answers) send users to ``<copr_url>/api`` for a token.
Browsers get the web UI's token page there (``coprd.web.pages.accounts``); other clients
keep getting this document, which says where tokens come from and which APIs this server
speaks.
"""

from __future__ import annotations

from coprd.api_legacy.schemas import ApiInfo
from coprd.config import Settings

TOKEN_COMMAND = "coprd token NAME"


def api_info(settings: Settings) -> ApiInfo:
    base = settings.public_url
    return ApiInfo(
        message=(
            f"Log in at {base}/login and open {base}/api in a browser to generate an API "
            f"token, or have the server's administrator run `{TOKEN_COMMAND}`; either gives "
            "the [copr-cli] section (login, username, token, copr_url) to save as "
            "~/.config/copr."
        ),
        token_command=TOKEN_COMMAND,
        config_file="~/.config/copr",
        copr_url=base,
        apis={
            "v3": f"{base}/api_3/",
            "v2": f"{base}/api_2",
            "legacy": f"{base}/api/coprs/",
        },
    )
