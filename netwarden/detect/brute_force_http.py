"""Brute force on HTTP logins (``netwarden.detect.brute_force``): which requests are failed credentials, proven or
not, and a success after them. A mixin of the BruteForce detector (its settings, ``http`` state and findings)."""

from __future__ import annotations

from datetime import datetime

from netwarden.detect import scoring
from netwarden.detect.brute_force_state import (EVIDENCE_USERS, LOGIN_FAILED, LOGIN_PATH, MAX_TEXT, Source, epoch,
                                                count_text, when)
from netwarden.records import Event, Factor, Finding, Severity


_MEMO_URL, _MEMO_SIZE = 512, 8192  # URLs remembered: their length, how many (a flood repeats a few)


class HttpLogins:
    _login_paths: dict[str, tuple[str, bool]]  # the detector's
    # -- HTTP logins -------------------------------------------------------------------------------

    def _http_event(self, e: Event, ts: datetime, limit: int, touched: dict, out: list[Finding]) -> None:
        """Classify one request: a failed credential (``h``), an unproven one (``c``), a success, or nothing.

        A failure is a credential *submission* answered as one: a POST to a login path answered with the form
        again (200), 401, 403 or 429, or a 401 that carries a user name (basic auth: the log shows the name
        only when credentials were sent). A 401 without a user name is the browser's challenge or a log that
        cannot tell, so it counts as unproven. Viewing the login page, static assets and the redirect after
        a successful login (3xx) are not failures; the redirect is a success."""
        status = e.http_status
        key = e.src_ip
        if key is None:
            return
        method = e.http_method
        if method != "POST" and (status is None or not (200 <= status < 400 or status == 401 or status == 403)):
            return  # nothing below counts it (a 404 or 500 to a GET: most of a web attack flood)
        url = e.url or ""
        known = self._login_paths.get(url)
        if known is None:
            path = url.split("?", 1)[0][:MAX_TEXT * 4]
            known = (path, LOGIN_PATH.search(path) is not None)
            if len(url) <= _MEMO_URL:
                if len(self._login_paths) >= _MEMO_SIZE:
                    self._login_paths.clear()
                self._login_paths[url] = known
        path, login = known
        user = e.user if e.user and e.user != "-" else None
        tally = None
        if method == "POST" and login:
            if status is None:
                tally = "c"  # a capture without the answer
            elif status in LOGIN_FAILED:
                tally = "h"
            elif 300 <= status < 400:
                src = self.http.peek(key)
                if src is not None and any(200 <= k < 300 or k in (401, 403) for k in src.fail_status):
                    self._http_success_seen(e, key, ts, path, limit, out)  # the answer changed: in
                    return
                tally = "c"  # a redirect, but to where? (some sites redirect wrong passwords back to the form)
            else:
                return  # 400/404/5xx: a broken form or server, not an answer about the credentials
        elif status == 401:
            tally = "h" if user else "c"
        elif status == 403 and login:
            tally = "h"
        elif status is not None and 200 <= status < 400:
            src = self.http.peek(key)
            if src is not None and (path[:MAX_TEXT] in src.paths or user in src.users):
                self._http_success_seen(e, key, ts, path, limit, out)  # in, where it was refused before
            return
        if tally is None:
            return
        src = self.http.get(key, ts)
        src.add(epoch(ts), 1, tally, limit)
        src.user(user)
        if status is not None:
            src.bump(src.fail_status, status)
        src.bump(src.paths, path[:MAX_TEXT])
        if e.user_agent:
            src.bump(src.agents, e.user_agent[:MAX_TEXT], 5)
        target = e.dst_ip or e.extra.get("host") or e.observer
        if target:
            src.bump(src.targets, str(target)[:MAX_TEXT], 5)
        entry = touched.setdefault(("http", key), (src, []))
        if len(entry[1]) < 3:
            entry[1].append(e)

    def _http_success_seen(self, e: Event, key: str, ts: datetime, path: str, limit: int,
                           out: list[Finding]) -> None:
        src = self.http.peek(key)
        if src is None:
            return
        if not src.success_reported:
            finding = self._http_success(e, key, ts, src)
            if finding is not None:
                out.append(finding)
                return
        src.add(epoch(ts), 1, "ok", limit)  # someone behind this address got in: fewer of its failures are guesses

    def _http_success(self, e: Event, key: str, ts: datetime, src: Source) -> Finding | None:
        """A 2xx/3xx where this source kept failing: on a path that answered it 401, or a login answer
        different from the ones its submissions kept getting (WordPress: 200 form again, then 302 in)."""
        s = self.settings
        path = (e.url or "").split("?", 1)[0][:MAX_TEXT]
        if path not in src.paths:
            return None
        status = e.http_status or 0
        if status in src.fail_status and 401 not in src.fail_status:
            return None  # the same answer as the failures: nothing changed
        if e.http_method != "POST" and 401 not in src.fail_status:
            return None
        now = epoch(ts)
        failures = self._count(src, now - s.slow_window)
        if not self._hit("http", "", src, now):
            return None  # a few failures, then in: a person (or several behind one address)
        src.success_reported = True
        user = (e.user or "")[:MAX_TEXT]
        target = e.dst_ip or e.extra.get("host") or e.observer or next(iter(src.targets), None)
        statuses = ", ".join(f"{k}×{v}" for k, v in sorted(src.fail_status.items()))
        return self.finding(
            kind="brute_force", subkind="success_after_failures", severity=Severity.CRITICAL,
            factors=[Factor("success_after_failures", 0.85,
                            f"{e.http_method} {path} answered {status} after {count_text(failures)} failed logins "
                            f"({statuses}) from {key}"),
                     Factor("failures", scoring.saturating(failures, 40), f"{count_text(failures)} failed logins")],
            recommendation=(f"Assume a login on {target or 'the site'} succeeded for {key}: find which account "
                            f"({'user ' + repr(user) + ', ' if user else ''}the application's log at "
                            f"{ts:%Y-%m-%d %H:%M:%S} UTC), reset its password and sessions, review what it did, "
                            f"and block {key}."),
            first_seen=when(src.first) if src.first else ts, last_seen=ts, source=key,
            target=str(target) if target else None, count=1, signature=f"http:success:{path}",
            evidence={"path": path, "status": status, "failures": failures, "failure_statuses": src.fail_status,
                      "users_tried": list(src.users)[:EVIDENCE_USERS], "user": user or None},
            events=[e])

