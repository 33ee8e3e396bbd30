"""Review finding: after an over-long line fills a list, the shortcut for plain ASCII blocks hashes its whole
block before handing that list out, so the resume digest no longer matches the list's last line."""
import hashlib
from netwarden.collect import files
from netwarden.collect.files import LogFile


def test_digest_in_step_after_long_line_fills_the_list(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BLOCK", 8)
    data = b"ok\n" + b"x" * 30 + b"\nab\ncd\nef\n"
    path = tmp_path / "a.log"
    path.write_bytes(data)
    log = LogFile(path)
    digest = hashlib.sha256()
    seen = []
    for chunk in log.chunks(start_offset=0, start_line=0, digest=digest, max_line_bytes=10, size=1):
        seen.append((chunk[-1].number, chunk[-1].end, digest.hexdigest() == hashlib.sha256(data[:chunk[-1].end]).hexdigest()))
    log.close()
    assert [n for n, _, _ in seen][-1] == 5
    assert all(ok for _, _, ok in seen), seen
