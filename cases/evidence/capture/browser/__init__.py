"""The full-page screenshot: real headless Chromium whose every request goes through the
safe fetcher.

Chromium never touches the network itself. Playwright's request interception
(`context.route("**/*")`) hands every HTTP(S) request the page makes (documents, frames,
images, scripts, fetch/XHR, beacons, requests from workers) to `fetch()` under the same
`Policy` as the main visit, and answers Chromium with what the fetcher got (or aborts
the request when the policy refused it): `session`. What interception cannot see is cut
off below it, by launch flags (`launch`):

* a dead proxy (`--proxy-server` to a closed local port, with `<-loopback>` so that
  loopback is not exempted) for WebSockets and anything else that escapes interception;
* `--host-resolver-rules=MAP * ~NOTFOUND`, so that Chromium cannot resolve any name,
  and DNS prefetching has nothing to ask;
* WebRTC limited to proxied UDP (which the dead proxy refuses), so ICE cannot probe;
* service workers blocked (they could fetch outside the page's interception) and
  downloads refused.

A redirect is never handed to Chromium as a 3xx (it would follow the Location itself,
outside interception): the fetcher follows and re-checks redirects and Chromium gets the
final answer. The main document is requested at the final URL the pipeline's visit
ended on, so relative links resolve as they did for the visitor.

One frozen state of one document (`freeze`). The page is held on the document served for
the URL: every later main-frame navigation it attempts (a script changing `location`, a
meta refresh, a form, a reload) is refused at the route, and windows it opens are closed;
each attempt is recorded with its target and Chromium's reason. After load and settle,
script execution is switched off (CDP `Emulation.setScriptExecutionDisabled`) and loading
stopped, so that the screenshot and the rendered DOM snapshot show the same state (`read`);
the DOM is read before and after the screenshot and must not have changed. A page that
left its document anyway (for one that needs no request, such as about:blank) is refused:
no screenshot of another document is taken (`visit`). docs/capture.md explains the choices.

No ORM in here: Playwright runs its own event loop, and this package runs it in a thread
of its own (with one browser kept per worker process, a fresh context per capture), so
the caller's Django connection never sees a running loop.
"""

from cases.evidence.capture.browser.launch import BrowserOptions
from cases.evidence.capture.browser.result import BrowserRequest, BrowserResult
from cases.evidence.capture.browser.visit import browser_capture

__all__ = ["BrowserOptions", "BrowserRequest", "BrowserResult", "browser_capture"]
