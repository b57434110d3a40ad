"""The supervisors' QA desk in the admin, one module per desk; importing them registers their admins.

- ``admin_rules``: rules (versioned, backtested);
- ``admin_findings``: the findings queue and a finding's review page;
- ``admin_transcripts``: transcripts with their findings marked, the recording, and the search page;
- ``admin_scorecards``: agents' weekly scorecards;
- ``admin_recordings``: uploading calls for transcription, following them, retrying.

The pages' contexts come from ``qa.selectors``; every change goes through ``qa.services`` or ``qa.recordings``.
"""

from __future__ import annotations

from qa import admin_findings, admin_recordings, admin_rules, admin_scorecards, admin_transcripts

__all__ = ["admin_findings", "admin_recordings", "admin_rules", "admin_scorecards", "admin_transcripts"]
