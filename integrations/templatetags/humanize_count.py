"""`big_count`: a row estimate rounded for reading (2,013,456 → 2.0 million)."""

from django import template

register = template.Library()


@register.filter
def big_count(value: int) -> str:
    value = int(value)
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f} million"
    if value >= 100_000:
        return f"{round(value, -3):,}"
    return f"{value:,}"
