"""The staff selectors enforce who may read through them, whichever surface calls them."""

import pytest

from analytics import selectors
from analytics.tests.factories import make_conversation
from bots.errors import StaffOnly
from bots.tests.factories import make_bot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("actor_name", ["user", "manager"])
def test_every_users_conversations_are_refused_to_anyone_but_an_admin(request, actor_name, other_user):
    actor = request.getfixturevalue(actor_name)
    conversation = make_conversation(user=other_user, bot=make_bot(owner=other_user))
    with pytest.raises(StaffOnly):
        selectors.conversation_list_all(actor=actor)
    with pytest.raises(StaffOnly):
        selectors.conversation_get_any(actor=actor, conversation_id=conversation.pk)


def test_an_admin_reads_any_users_conversations(admin_user, other_user):
    conversation = make_conversation(user=other_user, bot=make_bot(owner=other_user))
    assert list(selectors.conversation_list_all(actor=admin_user)) == [conversation]
    assert selectors.conversation_get_any(actor=admin_user, conversation_id=conversation.pk) == conversation
