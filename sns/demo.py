"""Demo data: a few people, posts, hashtags, follows, likes, comments and replies, so that a
newcomer's first `make run` shows a living site (``python run.py demo``)."""

from __future__ import annotations

from sqlalchemy import func, select

from sns.schema import users
from sns.services import Services

DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed for newcomers on purpose

PEOPLE = (
    ("zero@example.com", "제로초"),
    ("nodebird@example.com", "노드버드"),
    ("tornado@example.com", "tornado_fan"),
    ("coffee@example.com", "커피한잔"),
)

POSTS = (
    (0, "#노드 공부 시작했어요. 첫 글입니다! #nodejs"),
    (1, "Tornado로 만든 SNS에 오신 걸 환영합니다 #Tornado #python"),
    (2, "async/await makes #python servers pleasant #Tornado"),
    (3, "오늘의 #커피 ☕ 라떼 한 잔"),
    (0, "해시태그는 한글도 됩니다: #노드 #자바스크립트"),
    (1, "140자 안에 담는 연습 중 #글쓰기"),
    (2, "Keyset pagination keeps timelines fast #database #python"),
    (3, "비 오는 날엔 #커피 와 #노드 코딩"),
)

FOLLOWS = ((0, 1), (0, 2), (1, 0), (2, 0), (2, 3), (3, 0), (3, 1))
LIKES = ((0, 1), (0, 2), (1, 0), (1, 3), (2, 1), (3, 0), (3, 4), (2, 6), (0, 7))
COMMENTS = (
    (1, 0, "반가워요!", ((0, "저도 반가워요 🙌"),)),
    (2, 1, "Welcome aboard", ()),
    (3, 3, "라떼 최고", ((3, "그쵸!"), (1, "저는 아메리카노파"))),
    (0, 6, "Nice explanation of cursors", ()),
)


async def load_demo(services: Services) -> int:
    """Fill an empty database; returns how many posts were written (0: it was not empty)."""
    async with services.db.read() as conn:
        existing = (await conn.execute(select(func.count()).select_from(users))).scalar()
    if existing:
        return 0
    people = [
        (await services.accounts.join(email, nick, DEMO_PASSWORD)).id for email, nick in PEOPLE
    ]
    post_ids = [await services.posts.create(people[who], text) for who, text in POSTS]
    for follower, following in FOLLOWS:
        await services.follows.follow(people[follower], people[following])
    for who, post in LIKES:
        await services.likes.like(people[who], post_ids[post])
    for who, post, text, replies in COMMENTS:
        comment = await services.comments.comment(people[who], post_ids[post], text)
        for replier, reply in replies:
            await services.comments.reply(people[replier], comment.id, reply)
    return len(post_ids)
