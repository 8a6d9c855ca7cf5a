"""Removal signatures seeded into each new agency, per platform of cases/agency/seeds.py.

Each entry: (platform name, signature name, kind, text or pattern, example). The text is
what the platform shows in place of content that was deleted, taken down or disabled;
kept specific on purpose, because a match is half of a removal (a second observation
confirms it). Pages that only hide content from us (geo-blocking, age or login walls,
"private video") are deliberately not here. The example is a sentence such a page shows;
tests check that every signature matches its example on its own platform and nowhere else.
Admins edit their agency's copy (Platforms → Removal signatures) when a platform changes
its wording.
"""

from __future__ import annotations

PHRASE, REGEX = "phrase", "regex"

REMOVAL_SIGNATURES: list[tuple[str, str, str, str, str]] = [
    (
        "YouTube",
        "video removed",
        REGEX,
        r"this video has been removed (by the uploader|for violating|because|due to)",
        "This video has been removed by the uploader",
    ),
    (
        "YouTube",
        "video no longer available",
        REGEX,
        r"this video (is no longer available|isn't available anymore)",
        "This video isn't available anymore",
    ),
    (
        "YouTube",
        "account terminated",
        PHRASE,
        "account associated with this video has been terminated",
        "This video is no longer available because the YouTube account associated with this "
        "video has been terminated.",
    ),
    (
        "YouTube",
        "video removed (Korean)",
        PHRASE,
        "업로더가 삭제한 동영상입니다",
        "업로더가 삭제한 동영상입니다.",
    ),
    (
        "X (Twitter)",
        "post deleted or unavailable",
        REGEX,
        r"this (post|tweet) (is unavailable|was deleted|has been deleted)",
        "This post was deleted by the post author.",
    ),
    (
        "X (Twitter)",
        "page does not exist",
        PHRASE,
        "hmm...this page doesn't exist",
        "Hmm...this page doesn't exist. Try searching for something else.",
    ),
    ("X (Twitter)", "account suspended", PHRASE, "account suspended", "Account suspended"),
    (
        "Instagram",
        "page not available",
        PHRASE,
        "sorry, this page isn't available",
        "Sorry, this page isn't available. The link you followed may be broken, or the page "
        "may have been removed.",
    ),
    (
        "Instagram",
        "page not available (Korean)",
        PHRASE,
        "죄송합니다. 페이지를 사용할 수 없습니다",
        "죄송합니다. 페이지를 사용할 수 없습니다.",
    ),
    (
        "Facebook",
        "content not available",
        REGEX,
        r"this content isn't available (right now|at the moment)",
        "This content isn't available right now",
    ),
    (
        "Facebook",
        "content not available (Korean)",
        PHRASE,
        "현재 이 콘텐츠를 이용할 수 없습니다",
        "현재 이 콘텐츠를 이용할 수 없습니다",
    ),
    (
        "TikTok",
        "video unavailable",
        REGEX,
        r"(video currently unavailable|this video (is unavailable|has been removed))",
        "Video currently unavailable",
    ),
    (
        "TikTok",
        "account not found",
        PHRASE,
        "couldn't find this account",
        "Couldn't find this account",
    ),
    (
        "Reddit",
        "post deleted or removed",
        REGEX,
        r"sorry, this post (was deleted|has been removed|was removed)",
        "Sorry, this post was deleted by the person who originally posted it.",
    ),
    (
        "Telegram",
        "post not found",
        PHRASE,
        "post not found",
        "Post not found",
    ),
    (
        "Telegram",
        "channel blocked",
        REGEX,
        r"this (channel|group|bot) can't be displayed because",
        "This channel can't be displayed because it violated Telegram's Terms of Service.",
    ),
    (
        "Naver",
        "post deleted",
        REGEX,
        r"(삭제되었거나 (존재하지 않는|없는) (게시물|게시글)|삭제된 (게시물|게시글))",
        "삭제되었거나 존재하지 않는 게시물입니다.",
    ),
    (
        "Naver",
        "video does not exist",
        PHRASE,
        "존재하지 않는 동영상",
        "존재하지 않는 동영상입니다.",
    ),
    (
        "Daum / Kakao",
        "post deleted",
        REGEX,
        r"(삭제된 (게시물|게시글)|게시물이 삭제되었습니다|존재하지 않는 게시(물|글))",
        "삭제된 게시글입니다.",
    ),
    (
        "DC Inside",
        "post deleted",
        REGEX,
        r"(해당 게시물은 삭제되었습니다|삭제된 게시물)",
        "해당 게시물은 삭제되었습니다.",
    ),
    (
        "Tumblr",
        "post or blog gone",
        REGEX,
        r"(this post is no longer available|there's nothing here\.)",
        "There's nothing here.",
    ),
    (
        "Pornhub",
        "video removed or disabled",
        REGEX,
        r"(video has been (removed|disabled)|flagged for verification)",
        "This video has been removed at the request of the copyright owner.",
    ),
    (
        "XVideos",
        "video deleted",
        REGEX,
        r"(this video has been (deleted|removed)|sorry, this video is not available)",
        "THIS VIDEO HAS BEEN DELETED",
    ),
]
