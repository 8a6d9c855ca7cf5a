"""Major platforms seeded into each new agency. Admins edit their own copy afterwards."""

from __future__ import annotations

# (name, domains, abuse e-mail, web form, channel)
PLATFORMS: list[tuple[str, list[str], str, str, str]] = [
    (
        "YouTube",
        ["youtube.com", "youtu.be", "googlevideo.com"],
        "",
        "https://support.google.com/youtube/answer/2807622",
        "web_form",
    ),
    (
        "X (Twitter)",
        ["x.com", "twitter.com", "t.co", "twimg.com"],
        "",
        "https://help.x.com/forms",
        "web_form",
    ),
    (
        "Instagram",
        ["instagram.com", "cdninstagram.com"],
        "",
        "https://help.instagram.com/contact/",
        "web_form",
    ),
    (
        "Facebook",
        ["facebook.com", "fb.com", "fbcdn.net", "fb.watch"],
        "",
        "https://www.facebook.com/help/contact/",
        "web_form",
    ),
    (
        "TikTok",
        ["tiktok.com", "tiktokcdn.com"],
        "",
        "https://www.tiktok.com/legal/report",
        "web_form",
    ),
    (
        "Reddit",
        ["reddit.com", "redd.it", "redditmedia.com"],
        "",
        "https://www.reddit.com/report",
        "web_form",
    ),
    ("Telegram", ["t.me", "telegram.org", "telegram.me"], "abuse@telegram.org", "", "email"),
    (
        "Discord",
        ["discord.com", "discord.gg", "discordapp.com", "discordapp.net"],
        "",
        "https://dis.gd/request",
        "web_form",
    ),
    (
        "Naver",
        ["naver.com", "blog.naver.com", "cafe.naver.com"],
        "",
        "https://right.naver.com/",
        "web_form",
    ),
    (
        "Daum / Kakao",
        ["daum.net", "kakao.com", "tistory.com"],
        "",
        "https://cs.kakao.com/",
        "web_form",
    ),
    (
        "DC Inside",
        ["dcinside.com"],
        "",
        "https://gall.dcinside.com/board/lists/?id=singo",
        "web_form",
    ),
    (
        "Google Search",
        ["google.com", "google.co.kr"],
        "",
        "https://reportcontent.google.com/",
        "web_form",
    ),
    (
        "Pinterest",
        ["pinterest.com", "pinimg.com"],
        "",
        "https://help.pinterest.com/en/contact",
        "web_form",
    ),
    ("Tumblr", ["tumblr.com"], "", "https://www.tumblr.com/abuse", "web_form"),
    (
        "Pornhub",
        ["pornhub.com", "phncdn.com"],
        "",
        "https://www.pornhub.com/content-removal",
        "web_form",
    ),
    ("XVideos", ["xvideos.com"], "", "https://info.xvideos.com/takedown-request", "web_form"),
    (
        "Cloudflare (hosting provider lookup)",
        ["cloudflare.com"],
        "abuse@cloudflare.com",
        "https://abuse.cloudflare.com/",
        "web_form",
    ),
]
