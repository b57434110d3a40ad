"""Forms of the radio: nominating a case, answering an item, and the curators' screening decisions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.users import Actor
from qa.models import Severity
from radio import selectors, services
from radio.models import Channel, DigestItem, Nomination, Reply
from radio.services import HEADLINE_MAX, TEXT_MAX
from radio.sources import Source


def error_lists(error: ValidationError) -> dict[str, list[str]]:
    """A service's ValidationError as {field: [message, ...]} ("__all__" when it names no field)."""
    if hasattr(error, "error_dict"):
        return {name: [str(m) for m in ValidationError(errs).messages] for name, errs in error.error_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


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

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:  # the chat console may post the channel's code: the choice field wants its id
            data = data.copy()
            data["channel"] = channel_from_value(str(data.get("channel", "")))
        super().__init__(data, *args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            selectors.department_channels().select_related("department").order_by("department__name", "name")
        )
        field.label_from_instance = lambda obj: f"{obj.department.name} · {obj.name}"  # type: ignore[method-assign]

    def nominate(self, source: Source, *, by: Actor) -> tuple[Nomination, bool] | None:
        """Nominate ``source`` as entered (services.nominate): (nomination, created), or None with the form's errors."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        try:
            return services.nominate(
                source,
                by=by,
                quote=data["quote"],
                note=data["note"],
                channel=data["channel"],
                severity=data["severity"],
            )
        except ValidationError as error:
            for name, problems in error_lists(error).items():
                self.add_error(name if name in self.fields else None, problems)
            return None


def channel_from_value(value: str) -> str:
    """A channel given by its code (as the chat console may post it) becomes its id, for the choice field."""
    if value and not value.isdigit():
        found = selectors.department_channels().filter(code=value).values_list("pk", flat=True).first()
        return str(found) if found else value
    return value


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}))

    def reply(self, item: DigestItem, *, by: Actor) -> Reply:
        """Answer the item (services.reply_to_item); a ValidationError when the form or the service refuses it."""
        if not self.is_valid():
            raise ValidationError(self.errors.as_data())  # {field: [errors]}: each message once, no codes
        return services.reply_to_item(item, self.cleaned_data["body"], by=by)


class ApproveForm(forms.Form):
    channels = forms.ModelMultipleChoiceField(
        label=_("Channels"), queryset=Channel.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    headline = forms.CharField(label=_("Headline"), max_length=HEADLINE_MAX, required=False)
    done = _("Approved: on the radio with the next digest.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channels"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            selectors.department_channels().select_related("department").order_by("department__name", "name")
        )
        field.label_from_instance = lambda obj: f"{obj.department.name} · {obj.name}"  # type: ignore[method-assign]

    def apply(self, nomination: Nomination, *, by: Actor) -> None:
        data = self.cleaned_data
        services.approve_nomination(nomination, data["channels"], by=by, headline=data["headline"])


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the agent reads it)"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )
    done = _("Rejected; the agent sees your reason.")

    def apply(self, nomination: Nomination, *, by: Actor) -> None:
        services.reject_nomination(nomination, self.cleaned_data["reason"], by=by)


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

    def merge(self, nominations: Iterable[Nomination], *, by: Actor) -> Nomination:
        """Merge the other nominations into the one chosen (services.merge_nominations)."""
        primary = self.cleaned_data["primary"]
        return services.merge_nominations(primary, [n for n in nominations if n.pk != primary.pk], by=by)


class HeadlineForm(forms.Form):
    headline = forms.CharField(label=_("Headline"), max_length=HEADLINE_MAX, required=False)
    done = _("Headline saved.")

    def apply(self, nomination: Nomination, *, by: Actor) -> None:
        services.edit_headline(nomination, self.cleaned_data["headline"], by=by)


# The screening page's buttons: each posts its form, which calls one service.
SCREENING_FORMS: dict[str, type[ApproveForm | HeadlineForm | RejectForm]] = {
    "approve": ApproveForm,
    "headline": HeadlineForm,
    "reject": RejectForm,
}


def form_problems(form: forms.Form) -> ValidationError:
    """A bound form's errors as one ValidationError, each message led by its field's label."""
    return ValidationError(
        [f"{form.fields[name].label if name in form.fields else ''}: {' '.join(str(e) for e in errors)}"
         for name, errors in form.errors.items()]
    )  # fmt: skip
