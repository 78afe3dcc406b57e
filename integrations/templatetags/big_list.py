"""`{% big_result_list cl %}`: the admin's `result_list` with the rows of
integrations/admin/rows.py (same template, same HTML, a fraction of the time)."""

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode

from integrations.admin.rows import result_list_context

register = template.Library()


@register.tag(name="big_result_list")
def big_result_list_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=result_list_context,
        template_name="change_list_results.html",
        takes_context=False,
    )
