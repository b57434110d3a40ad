"""Forms of the radio: nominating a case, answering an item, and the curators' screening decisions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from qa.models import Severity
from radio.models import Channel, Nomination
from radio.services import HEADLINE_MAX, TEXT_MAX


class NominateForm(forms.Form):
    quote = forms.CharField(
        label=_("The consumer's words"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Their own words, as they said them. Phone, ID and card numbers are masked when saved."),
    )  # fmt: skip
    note = forms.CharField(
        label=_("Your note for the business team"), max_length=TEXT_MAX, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the business should hear this: what happened, how often you see it."),
    )  # fmt: skip
    channel = forms.ModelChoiceField(
        label=_("Suggested channel"), queryset=Channel.objects.none(), required=False,
        empty_label=_("Let the curator decide"),
    )  # fmt: skip
    # Optional: the chat console does not send it; the source's own severity applies (a finding's, or medium).
    severity = forms.TypedChoiceField(
        label=_("Severity"), choices=Severity.choices, coerce=int, initial=Severity.MEDIUM, required=False,
        empty_value=None,
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Channel.objects.filter(active=True).select_related("department").order_by("department__name", "name")
        )
        field.label_from_instance = lambda obj: f"{obj.department.name} · {obj.name}"  # type: ignore[method-assign]


def channel_from_value(value: str) -> str:
    """A channel given by its code (as the chat console may post it) becomes its id, for the choice field."""
    if value and not value.isdigit():
        found = Channel.objects.filter(code=value).values_list("pk", flat=True).first()
        return str(found) if found else value
    return value


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class ApproveForm(forms.Form):
    channels = forms.ModelMultipleChoiceField(
        label=_("Channels"), queryset=Channel.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    headline = forms.CharField(label=_("Headline"), max_length=HEADLINE_MAX, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channels"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            Channel.objects.filter(active=True).select_related("department").order_by("department__name", "name")
        )
        field.label_from_instance = lambda obj: f"{obj.department.name} · {obj.name}"  # type: ignore[method-assign]


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the agent reads it)"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class MergeForm(forms.Form):
    primary = forms.ModelChoiceField(
        label=_("Keep this one; merge the others into it"), queryset=Nomination.objects.none(),
        widget=forms.RadioSelect, empty_label=None,
    )  # fmt: skip

    def __init__(self, *args: Any, nominations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["primary"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = nominations
        field.label_from_instance = lambda obj: f"#{obj.pk} · {obj.title}"  # type: ignore[method-assign]


class HeadlineForm(forms.Form):
    headline = forms.CharField(label=_("Headline"), max_length=HEADLINE_MAX, required=False)
