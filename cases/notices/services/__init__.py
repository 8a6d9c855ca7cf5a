"""Takedown notices: create, render, check, send, and follow them to an outcome.

Lifecycle: draft → sent → acknowledged → actioned | rejected | no_response (a sent notice
may also close directly). A web-form notice goes draft → awaiting_submission when its text
is made final, and only becomes sent when a person records the submission of the platform's
form with the reference number it returned (notice_record_submission); its sending time and
deadline start from that submission. Every change writes an audit event, and status changes after
sending tell the agency's webhooks (cases.notices.webhooks). The text of a sent notice is frozen:
subject and body exactly as sent, with their SHA-256 (Notice.save refuses later edits).

One module per concern:
- templates: the sandboxed template engine, the agency's templates, signer profiles;
- drafts: create and edit a draft, render it, check it against its legal basis;
- sending: send by e-mail, or make a web-form notice final and record its submission;
- outcomes: acknowledged, actioned, rejected, no response; closing for removed findings;
- deadlines: the beat task's reminder, escalation and no-response sweeps;
- reclassify: the one-off repair of web-form notices the old code marked sent;
- errors: NoticeError (messages for the user) and NoticeSendRefused.
"""
