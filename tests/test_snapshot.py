"""Tests of the code-snapshot preflight check (azure_trainer.azureml.snapshot)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from azure_trainer.azureml import snapshot
from azure_trainer.azureml.snapshot import MAX_FILES, MB, check_snapshot, scan_snapshot


def _sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _sdk_upload_set(code: Path) -> set[str]:
    """What azure-ai-ml itself would upload (its own walk, its own ignore file)."""
    from azure.ai.ml._utils._asset_utils import get_ignore_file, get_upload_files_from_folder

    code = code.resolve()
    return {remote for _, remote in get_upload_files_from_folder(code, ignore_file=get_ignore_file(code))}


def _codes(findings) -> list[str]:
    return [f.code for f in findings]


# ---------------------------------------------------------------------------------------------
# import hygiene
# ---------------------------------------------------------------------------------------------


def test_the_scan_runs_offline_without_importing_azure_ai_ml(tmp_path):
    """The SDK's matcher is loaded from its file: validate can run the check without the 1.5 s import."""
    import subprocess

    _touch(tmp_path / "train.py")
    _touch(tmp_path / ".amlignore", "*.ckpt\n!best.ckpt\n")
    code = (
        "import sys; from azure_trainer.azureml.snapshot import check_snapshot, scan_snapshot; "
        f"r = scan_snapshot({str(tmp_path)!r}); check_snapshot({str(tmp_path)!r}); "
        "print(r.files, 'azure.ai.ml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "('.amlignore', 'train.py') False"


@pytest.mark.parametrize(
    "line",
    ["*.ckpt", "!best.ckpt", "/outputs/", "data/*.csv", "**/tmp/**", "\\#x", "a?c", "[ab]/", "docs/**/*.png"],
)
def test_the_offline_matcher_is_the_sdks(tmp_path, line):
    from azure.ai.ml._utils._asset_utils import AmlIgnoreFile

    from azure_trainer.azureml import _sdk

    _touch(tmp_path / ".amlignore", f"{line}\nignored.txt\n")
    ours, theirs = _sdk.ignore_file(tmp_path), AmlIgnoreFile(tmp_path)
    for rel in _ASSORTED_FILES + ["abc", "a/tmp/x", "b/y", "ignored.txt", "docs/a/b/c.png"]:
        path = (tmp_path / rel).as_posix()
        assert ours.is_file_excluded(path) == theirs.is_file_excluded(path), (line, rel)


# ---------------------------------------------------------------------------------------------
# sizes and counts
# ---------------------------------------------------------------------------------------------


def test_small_code_folder_is_fine(tmp_path):
    _touch(tmp_path / "train.py", "print('hi')\n")
    report = scan_snapshot(tmp_path)
    assert report.file_count == 1
    assert report.total_bytes == len("print('hi')\n")
    assert report.ignore_file is None
    assert check_snapshot(tmp_path) == []


def test_over_100_mb_is_a_warning_naming_the_largest(tmp_path):
    _touch(tmp_path / "train.py")
    _sparse(tmp_path / "checkpoints" / "model.pt", 120 * MB)
    findings = check_snapshot(tmp_path)
    assert _codes(findings) == ["snapshot-large"]
    (f,) = findings
    assert f.severity == "warning"
    assert "checkpoints/ (120.0 MB, 1 file)" in f.message
    assert "checkpoints/model.pt (120.0 MB)" in f.message
    assert ".amlignore" in f.message and "/checkpoints/" in f.message
    assert "data asset" in f.message


def test_over_300_mb_is_an_error(tmp_path):
    _touch(tmp_path / "train.py")
    _sparse(tmp_path / "data" / "big.bin", 350 * MB)
    _sparse(tmp_path / "weights.ckpt", 20 * MB)
    report = scan_snapshot(tmp_path)
    assert report.total_bytes == 370 * MB
    assert [e.path for e in report.largest_entries[:2]] == ["data", "weights.ckpt"]
    findings = check_snapshot(tmp_path)
    assert _codes(findings) == ["snapshot-too-large"]
    assert findings[0].is_error
    assert "370.0 MB" in findings[0].message
    assert "data/ (350.0 MB, 1 file)" in findings[0].message
    assert "weights.ckpt (20.0 MB)" in findings[0].message


def test_too_many_files_is_an_error(tmp_path):
    _touch(tmp_path / "train.py")
    many = tmp_path / "samples"
    many.mkdir()
    for i in range(MAX_FILES + 10):
        (many / f"{i}.txt").touch()
    report = scan_snapshot(tmp_path)
    assert report.file_count == MAX_FILES + 11
    findings = check_snapshot(tmp_path)
    assert _codes(findings) == ["snapshot-too-many-files"]
    assert f"samples/ (0 B, {MAX_FILES + 10:,} files)" in findings[0].message
    assert "/samples/" in findings[0].message


def test_exactly_at_the_limits_is_fine(tmp_path):
    for i in range(MAX_FILES - 1):
        (tmp_path / f"{i}").touch()
    _sparse(tmp_path / "x.bin", 100 * MB)  # exactly 100 MB: not over
    assert scan_snapshot(tmp_path).file_count == MAX_FILES
    assert check_snapshot(tmp_path) == []


def test_ignored_big_files_do_not_count(tmp_path):
    _touch(tmp_path / "train.py")
    _sparse(tmp_path / "data" / "big.bin", 350 * MB)
    _touch(tmp_path / ".amlignore", "data/\n")
    report = scan_snapshot(tmp_path)
    assert report.files == (".amlignore", "train.py")
    assert report.pruned_dirs == ("data",)
    assert check_snapshot(tmp_path) == []


def test_missing_code_folder(tmp_path):
    findings = check_snapshot(tmp_path / "nope")
    assert _codes(findings) == ["code-missing"]
    assert findings[0].is_error
    assert "nope" in findings[0].message


def test_code_may_be_a_single_file(tmp_path):
    _sparse(tmp_path / "train.py", 10)
    report = scan_snapshot(tmp_path / "train.py")
    assert report.files == ("train.py",)
    assert report.total_bytes == 10


def test_invalid_ignore_pattern_is_an_error_finding(tmp_path):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / ".amlignore", "a\\ \n")  # the SDK rstrip()s it to a dangling escape
    findings = check_snapshot(tmp_path)
    assert _codes(findings) == ["snapshot-ignore-invalid"]


def test_human_size():
    assert snapshot.human_size(0) == "0 B"
    assert snapshot.human_size(999) == "999 B"
    assert snapshot.human_size(1500) == "1.5 kB"
    assert snapshot.human_size(350 * MB) == "350.0 MB"
    assert snapshot.human_size(2_500_000_000) == "2.5 GB"


# ---------------------------------------------------------------------------------------------
# ignore files: the SDK's rules
# ---------------------------------------------------------------------------------------------


def test_gitignore_is_honoured(tmp_path):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / "model.ckpt")
    _touch(tmp_path / ".gitignore", "*.ckpt\n")
    report = scan_snapshot(tmp_path)
    assert report.ignore_file == (tmp_path / ".gitignore").resolve()
    assert report.files == (".gitignore", "train.py")


def test_amlignore_replaces_gitignore(tmp_path):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / "model.ckpt")
    _touch(tmp_path / "notes.md")
    _touch(tmp_path / ".gitignore", "*.ckpt\n")
    _touch(tmp_path / ".amlignore", "*.md\n")
    report = scan_snapshot(tmp_path)
    assert report.ignore_file == (tmp_path / ".amlignore").resolve()
    # .gitignore is NOT merged: model.ckpt is uploaded, and so are both ignore files
    assert report.files == (".amlignore", ".gitignore", "model.ckpt", "train.py")
    assert set(report.files) == _sdk_upload_set(tmp_path)


def test_gitignore_hint_mentions_that_amlignore_replaces_it(tmp_path):
    _touch(tmp_path / ".gitignore", "*.log\n")
    _sparse(tmp_path / "data" / "x.bin", 150 * MB)
    (f,) = check_snapshot(tmp_path)
    assert "replaces .gitignore" in f.message


def test_nested_ignore_files_are_not_read(tmp_path):
    _touch(tmp_path / "pkg" / "a.tmp")
    _touch(tmp_path / "pkg" / ".gitignore", "*.tmp\n")
    _touch(tmp_path / "pkg" / ".amlignore", "*.tmp\n")
    report = scan_snapshot(tmp_path)
    assert "pkg/a.tmp" in report.files
    assert set(report.files) == _sdk_upload_set(tmp_path)


def test_no_default_exclusions_for_jobs(tmp_path):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / "__pycache__" / "train.cpython-311.pyc")
    _touch(tmp_path / ".git" / "HEAD")
    _touch(tmp_path / ".gitignore", "*.log\n")
    report = scan_snapshot(tmp_path)
    assert set(report.files) == {"train.py", "__pycache__/train.cpython-311.pyc", ".git/HEAD", ".gitignore"}
    assert set(report.files) == _sdk_upload_set(tmp_path)


def test_negation_reincludes_even_inside_an_excluded_folder(tmp_path):
    """Unlike git, the SDK matches each file on its own: `!data/keep.txt` wins over `data/`."""
    _touch(tmp_path / "data" / "keep.txt")
    _touch(tmp_path / "data" / "drop.bin")
    _touch(tmp_path / "logs" / "a.log")
    _touch(tmp_path / "logs" / "important.log")
    _touch(tmp_path / ".amlignore", "data/\n!data/keep.txt\n*.log\n!important.log\n")
    report = scan_snapshot(tmp_path)
    assert set(report.files) == {".amlignore", "data/keep.txt", "logs/important.log"}
    assert report.pruned_dirs == ()  # a negation may re-include: nothing can be pruned
    assert set(report.files) == _sdk_upload_set(tmp_path)


def test_anchored_negation_elsewhere_does_not_block_pruning(tmp_path):
    _touch(tmp_path / "data" / "x.bin")
    _touch(tmp_path / "cache" / "y.bin")
    _touch(tmp_path / ".amlignore", "data/\ncache/\n!/data/keep.txt\n")
    report = scan_snapshot(tmp_path)
    assert report.pruned_dirs == ("cache",)
    assert set(report.files) == {".amlignore"} == _sdk_upload_set(tmp_path)


def test_directory_pattern_forms(tmp_path):
    for d in ("a", "b", "c", "d", "sub/a", "sub/e", "f/g"):
        _touch(tmp_path / d / "file.txt")
    _touch(tmp_path / "b_file")
    # `a` (any depth), `/b/` (root only), `c/*`, `**/e`, `f/*/`
    _touch(tmp_path / ".amlignore", "a\n/b/\nc/*\n**/e\nf/*/\n")
    report = scan_snapshot(tmp_path)
    assert set(report.files) == {".amlignore", "b_file", "d/file.txt"}
    assert set(report.files) == _sdk_upload_set(tmp_path)
    assert set(report.pruned_dirs) == {"a", "b", "sub/a", "sub/e", "f/g"}


def test_dir_only_pattern_does_not_exclude_a_file_of_that_name(tmp_path):
    _touch(tmp_path / "data")  # a FILE named data
    _touch(tmp_path / ".amlignore", "data/\n")
    assert set(scan_snapshot(tmp_path).files) == {".amlignore", "data"} == _sdk_upload_set(tmp_path)


# ---------------------------------------------------------------------------------------------
# symlinks: the SDK follows them (os.walk(followlinks=True)) and matches resolved paths
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlinked_folders_inside_the_code_folder_are_followed_like_the_sdk(tmp_path):
    code = tmp_path / "code"
    _touch(code / "train.py")
    _touch(code / "src" / "lib.py")
    _touch(code / "src" / "junk.tmp")
    (code / "vendored").symlink_to(code / "src", target_is_directory=True)
    (code / "link.py").symlink_to(code / "train.py")
    _touch(code / ".amlignore", "*.tmp\nvendored/\n")
    report = scan_snapshot(code)
    # `vendored/` does not apply: the SDK matches files in it by their resolved path (src/...)
    assert set(report.files) == {".amlignore", "train.py", "link.py", "src/lib.py", "vendored/lib.py"}
    assert set(report.files) == _sdk_upload_set(code)
    assert report.outside_links == ()
    assert check_snapshot(code) == []


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_links_out_of_the_code_folder_are_errors_naming_link_and_target(tmp_path):
    """azure-ai-ml follows them (os.walk(followlinks=True), files uploaded from their resolved path):
    the SDK's own listing proves it; the check refuses them and never walks them."""
    outside = tmp_path / "outside"
    _touch(outside / "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----")
    _touch(outside / "lib" / "util.py")
    code = tmp_path / "code"
    _touch(code / "train.py")
    (code / "key_link").symlink_to(outside / "id_rsa")
    (code / "vendored").symlink_to(outside / "lib", target_is_directory=True)
    assert {"key_link", "vendored/util.py"} <= _sdk_upload_set(code)  # what the upload would send

    report = scan_snapshot(code)
    assert report.outside_links == (
        ("key_link", str((outside / "id_rsa").resolve())),
        ("vendored/", str((outside / "lib").resolve())),
    )
    assert "vendored/util.py" not in report.files  # never walked
    (finding,) = [f for f in check_snapshot(code) if f.code == "snapshot-link-outside"]
    assert finding.severity == "error"
    assert f"key_link -> {(outside / 'id_rsa').resolve()}" in finding.message
    assert f"vendored/ -> {(outside / 'lib').resolve()}" in finding.message


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlink_loop_is_reported_not_followed(tmp_path):
    _touch(tmp_path / "train.py")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "back").symlink_to(tmp_path, target_is_directory=True)
    report = scan_snapshot(tmp_path)
    assert report.symlink_loops == ("pkg/back",)
    assert report.files == ("train.py",)
    assert "snapshot-symlink-loop" in _codes(check_snapshot(tmp_path))


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_broken_symlink_is_reported(tmp_path):
    _touch(tmp_path / "train.py")
    (tmp_path / "gone.bin").symlink_to(tmp_path / "missing.bin")
    assert scan_snapshot(tmp_path).broken_links == ("gone.bin",)
    assert _codes(check_snapshot(tmp_path)) == ["snapshot-broken-link"]


# ---------------------------------------------------------------------------------------------
# equivalence with azure-ai-ml on an assorted tree
# ---------------------------------------------------------------------------------------------

_ASSORTED_IGNORE = """\
# comment line

*.ckpt
!best.ckpt
/outputs/
logs
**/tmp/**
data/*.csv
!data/keep.csv
wandb/
docs/**/*.png
\\#literal
*.py[co]
build/*/
"""

_ASSORTED_FILES = [
    "train.py",
    "best.ckpt",
    "last.ckpt",
    "models/last.ckpt",
    "models/best.ckpt",
    "outputs/result.json",
    "src/outputs/ok.txt",
    "logs",
    "src/logs/x.txt",
    "a/tmp/b/c.txt",
    "tmp/d.txt",
    "data/a.csv",
    "data/keep.csv",
    "data/sub/b.csv",
    "data/readme.md",
    "wandb/run-1/files/x",
    "docs/img/a.png",
    "docs/a.png",
    "docs/index.md",
    "#literal",
    "pkg/mod.pyc",
    "pkg/mod.py",
    "build/x/y.o",
    "build/top.txt",
    "trailing space.txt",
    "unicodé/файл.txt",
]


@pytest.mark.parametrize("ignore_name", [".amlignore", ".gitignore"])
def test_equivalent_to_the_sdk_upload_list(tmp_path, ignore_name):
    for rel in _ASSORTED_FILES:
        _touch(tmp_path / rel, rel)
    _touch(tmp_path / ignore_name, _ASSORTED_IGNORE)
    report = scan_snapshot(tmp_path)
    expected = _sdk_upload_set(tmp_path)
    assert set(report.files) == expected
    assert report.file_count == len(expected)
    assert report.total_bytes == sum((tmp_path / p).stat().st_size for p in expected)
    # the pruning did happen where it is safe
    assert {"outputs", "wandb", "tmp", "a/tmp"} <= set(report.pruned_dirs)


def test_sdk_directory_size_agrees(tmp_path):
    from azure.ai.ml._utils._asset_utils import get_directory_size, get_ignore_file

    for rel in _ASSORTED_FILES:
        _touch(tmp_path / rel, rel * 3)
    _touch(tmp_path / ".amlignore", _ASSORTED_IGNORE)
    total, _ = get_directory_size(tmp_path, ignore_file=get_ignore_file(tmp_path))
    assert scan_snapshot(tmp_path).total_bytes == total


# ---------------------------------------------------------------------------------------------
# the pruned walk: a 100,000-file ignored folder is never listed
# ---------------------------------------------------------------------------------------------

BIG = 100_000


@pytest.fixture(scope="module")
def code_with_huge_ignored_data(tmp_path_factory):
    code = tmp_path_factory.mktemp("huge") / "code"
    data = code / "data"
    data.mkdir(parents=True)
    for i in range(100):
        sub = data / f"shard{i:03d}"
        sub.mkdir()
        for j in range(BIG // 100):
            # os.open/close is the cheapest way to create an empty file
            os.close(os.open(sub / f"{j}.png", os.O_CREAT | os.O_WRONLY, 0o644))
    _touch(code / "train.py", "print('train')\n")
    _touch(code / "model.py", "print('model')\n")
    _touch(code / ".amlignore", "data/\n")
    return code


@pytest.mark.slow  # building 100,000 files takes 5 s to 2 min, depending on the disk and load
def test_pruned_walk_never_lists_the_ignored_folder(code_with_huge_ignored_data, monkeypatch):
    code = code_with_huge_ignored_data
    scan_snapshot(code)  # warm up (the lazy azure.ai.ml import is not what is measured)

    listed: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path="."):
        listed.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(snapshot.os, "scandir", counting_scandir)
    report = scan_snapshot(code)

    assert listed == [str(code.resolve())]  # only the code root is listed, never data/
    assert report.files == (".amlignore", "model.py", "train.py")
    assert report.pruned_dirs == ("data",)
    assert check_snapshot(code) == []


@pytest.mark.slow
def test_unignored_huge_folder_is_too_many_files(code_with_huge_ignored_data, tmp_path):
    """Same tree with the ignore file gone: the SDK would upload all 100,002 files; the check stops
    counting at its limit and says so."""
    code = code_with_huge_ignored_data
    report_path = tmp_path / "report"
    (code / ".amlignore").rename(report_path)
    try:
        findings = check_snapshot(code, keep={"train.py"})
    finally:
        report_path.rename(code / ".amlignore")
    assert _codes(findings) == ["snapshot-too-many-files"]
    assert "would upload at least" in findings[0].message and "stopped counting" in findings[0].message
    assert "Fix: add /data/ to" in findings[0].message


_FUZZ_NAMES = ["a", "b", "data", "tmp", "x.py", "y.ckpt", "keep.txt", "logs", "sub"]
_FUZZ_PATTERNS = [
    "a", "a/", "/a/", "data/", "data/*", "data/**", "**/tmp", "*.ckpt", "!keep.txt", "!data/keep.txt",
    "!/a/keep.txt", "sub/*/", "!sub/", "logs", "!*.py", "b/**/x.py", "/sub/a", "*", "!a/", "tmp/",
    "!**/keep.txt", "a*", "?ata/", "[ab]/", "!b",
]  # fmt: skip


def test_random_trees_and_patterns_match_the_sdk(tmp_path):
    """Seeded fuzz: random trees x random ignore files (negations included) == the SDK's list."""
    import random

    rng = random.Random(1234)
    pruned_somewhere = 0
    for trial in range(80):
        code = tmp_path / f"t{trial}"
        code.mkdir()
        for _ in range(rng.randint(3, 25)):
            path = code.joinpath(*(rng.choice(_FUZZ_NAMES) for _ in range(rng.randint(1, 4))))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    path.write_text("x")
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                pass  # a name already used as a file (or folder) on this path
        lines = rng.sample(_FUZZ_PATTERNS, rng.randint(1, 6))
        _touch(code / rng.choice([".amlignore", ".gitignore"]), "\n".join(lines) + "\n")
        report = scan_snapshot(code)
        assert set(report.files) == _sdk_upload_set(code), lines
        pruned_somewhere += bool(report.pruned_dirs)
    assert pruned_somewhere > 10  # the fuzz did exercise the pruning


# ---------------------------------------------------------------------------------------------
# links out of the code folder: what the SDK would upload decides
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_an_ignored_link_out_is_not_uploaded_and_not_reported(tmp_path):
    _touch(tmp_path / "outside" / "id_rsa")
    _touch(tmp_path / "outside" / "vendor" / "x.py")
    code = tmp_path / "code"
    _touch(code / "train.py")
    (code / "key_link").symlink_to(tmp_path / "outside" / "id_rsa")
    _touch(code / ".amlignore", "key_link\n")
    assert "key_link" not in _sdk_upload_set(code)
    assert scan_snapshot(code).outside_links == ()
    # a linked folder's files are matched by their resolved path (../outside/vendor/x.py): `lib/` does
    # not exclude them, a pattern that matches the resolved path does
    (code / "lib").symlink_to(tmp_path / "outside" / "vendor", target_is_directory=True)
    _touch(code / ".amlignore", "key_link\nlib/\n")
    assert "lib/x.py" in _sdk_upload_set(code)
    assert _codes(check_snapshot(code)) == ["snapshot-link-outside"]
    _touch(code / ".amlignore", "*\n!train.py\n")
    assert _sdk_upload_set(code) == {"train.py"}
    assert check_snapshot(code) == [] and scan_snapshot(code).files == ("train.py",)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_link_to_the_file_system_root_is_refused_without_walking_it(tmp_path):
    _touch(tmp_path / "train.py")
    (tmp_path / "root").symlink_to("/", target_is_directory=True)
    report = scan_snapshot(tmp_path)
    assert report.outside_links == (("root/", "/"),) and report.files == ("train.py",)


# ---------------------------------------------------------------------------------------------
# credential files and files that are not files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "config/.env.production",
        "certs/server.pem",
        "keys/id_rsa",
        "home/.ssh/known_hosts",
        ".aws/credentials",
        ".azure/msal_token_cache.json",
        ".netrc",
        ".git-credentials",
        ".kube/config",
        "deploy/kubeconfig",
        "store.pfx",
        ".docker/config.json",
    ],
)
def test_credential_files_are_errors_unless_ignored_or_allowed(tmp_path, path):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / path, "SECRET=do-not-show-me\n")
    (finding,) = check_snapshot(tmp_path)
    assert finding.code == "snapshot-credential-file" and finding.is_error
    assert path in finding.message and "do-not-show-me" not in finding.message
    assert f"/{path}" in finding.message and "preflight: {allow: [...]}" in finding.message
    assert check_snapshot(tmp_path, allow=[path]) == []
    assert check_snapshot(tmp_path, allow=[path.rsplit("/", 1)[-1]]) == []
    _touch(tmp_path / ".amlignore", f"/{path}\n")
    assert check_snapshot(tmp_path) == []


@pytest.mark.parametrize(
    "path", [".env.example", "env.py", "id_rsa.pub", "secrets_guard.py", "docs/kubeconfig.md", "keys.txt"]
)
def test_templates_and_ordinary_files_are_not_credentials(tmp_path, path):
    _touch(tmp_path / path)
    assert check_snapshot(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_is_an_error_and_is_never_opened(tmp_path):
    _touch(tmp_path / "train.py")
    os.mkfifo(tmp_path / "pipe")
    report = scan_snapshot(tmp_path)  # would block forever if the scan opened it
    assert report.special_files == ("pipe",)
    assert _codes(check_snapshot(tmp_path)) == ["snapshot-special-file"]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: (p / ".amlignore").mkdir(), "cannot be read"),
        (lambda p: (p / ".amlignore").write_bytes(b"data/\n\xff\xfe\n"), "cannot be read"),
        (lambda p: (p / ".amlignore").write_text("x\n" * 600_000), "over 1,000,000 bytes"),
    ],
)
def test_an_ignore_file_that_cannot_be_used_is_one_finding(tmp_path, make, words):
    _touch(tmp_path / "train.py")
    make(tmp_path)
    (finding,) = check_snapshot(tmp_path)
    assert finding.code == "snapshot-ignore-invalid" and words in finding.message
    assert "\n" not in finding.message


# ---------------------------------------------------------------------------------------------
# the bounded walk
# ---------------------------------------------------------------------------------------------


def test_the_walk_stops_at_the_entry_limit_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "SCAN_ENTRY_LIMIT", 300)
    _touch(tmp_path / "train.py")
    for i in range(400):
        (tmp_path / f"{i}.png").touch()
    _touch(tmp_path / ".amlignore", "*.png\n")  # excluded one by one: the walk must look at each
    report = scan_snapshot(tmp_path)
    assert not report.complete
    (finding,) = check_snapshot(tmp_path)
    assert finding.code == "snapshot-scan-incomplete" and finding.severity == "warning"
    assert "over 300 files and folders" in finding.message and "`data/`" in finding.message

    monkeypatch.setattr(snapshot, "MAX_FILES", 100)
    (tmp_path / ".amlignore").unlink()
    (finding,) = check_snapshot(tmp_path)
    assert finding.code == "snapshot-too-many-files" and "at least" in finding.message


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX root")
def test_code_at_the_file_system_root_is_refused_promptly():
    """`code: /` used to walk the whole disk for minutes; the walk now stops at its limits (the time is
    printed by benchmarks/guard_bench.py)."""
    report = scan_snapshot("/")
    assert not report.complete
    assert report.file_count <= snapshot.SCAN_ENTRY_LIMIT
    findings = check_snapshot("/")
    assert any(f.is_error for f in findings), findings
    assert all("\n" not in f.message for f in findings)


# ---------------------------------------------------------------------------------------------
# advice that is safe to follow
# ---------------------------------------------------------------------------------------------


def _follow(code: Path, message: str) -> None:
    """Append the .amlignore lines a finding suggests, as a user would."""
    suggested = message.split("Fix: add ", 1)[1].split(" to ", 1)[0].split(", ")
    existing = (code / ".amlignore").read_text() if (code / ".amlignore").exists() else ""
    (code / ".amlignore").write_text(existing + "".join(f"{line}\n" for line in suggested))


def test_advice_never_names_the_entry_script_or_files_the_command_uses(tmp_path):
    """Issue 12's case: the advice said `add /data.bin, /train_mlp.py to .amlignore`."""
    _sparse(tmp_path / "data.bin", 350 * MB)
    _sparse(tmp_path / "train_mlp.py", 2 * MB)
    _sparse(tmp_path / "conf" / "big.yaml", 1 * MB)
    (finding,) = check_snapshot(tmp_path, keep={"train_mlp.py", "conf/big.yaml"})
    assert "Fix: add /data.bin to" in finding.message
    assert "/train_mlp.py" not in finding.message and "/conf/" not in finding.message
    _follow(tmp_path, finding.message)
    assert check_snapshot(tmp_path) == []
    assert {"train_mlp.py", "conf/big.yaml"} <= _sdk_upload_set(tmp_path)


def test_advice_opens_a_folder_that_holds_the_script_and_suggests_its_largest_parts(tmp_path):
    _touch(tmp_path / "src" / "train.py")
    _sparse(tmp_path / "src" / "weights" / "big.bin", 330 * MB)
    _sparse(tmp_path / "src" / "cache" / "c.bin", 40 * MB)
    _sparse(tmp_path / "data" / "d.bin", 20 * MB)
    (finding,) = check_snapshot(tmp_path, keep={"src/train.py"})
    assert "Fix: add /src/weights/ to" in finding.message and "/src/ " not in finding.message
    _follow(tmp_path, finding.message)
    assert "src/train.py" in _sdk_upload_set(tmp_path)
    assert _codes(check_snapshot(tmp_path, keep={"src/train.py"})) == []


def test_advice_opens_a_folder_that_holds_python_the_script_may_import(tmp_path):
    """A folder with a module in it (`pkg/util.py`, imported by the script) is opened, not ignored whole:
    `/pkg/` would leave the module out of the upload."""
    _touch(tmp_path / "main.py")
    _touch(tmp_path / "pkg" / "util.py")
    _sparse(tmp_path / "pkg" / "weights.bin", 320 * MB)
    (finding,) = check_snapshot(tmp_path, keep={"main.py"})
    assert "Fix: add /pkg/weights.bin to" in finding.message and "/pkg/ " not in finding.message
    _follow(tmp_path, finding.message)
    assert {"main.py", "pkg/util.py"} <= _sdk_upload_set(tmp_path)


def test_advice_may_ignore_a_virtual_environment_whole(tmp_path):
    """A virtual environment (a folder with `pyvenv.cfg`) is never the job's source: ignored whole."""
    _touch(tmp_path / "main.py")
    _touch(tmp_path / ".venv" / "pyvenv.cfg")
    _touch(tmp_path / ".venv" / "lib" / "site-packages" / "six.py")
    _sparse(tmp_path / ".venv" / "lib" / "site-packages" / "libtorch.so", 320 * MB)
    (finding,) = check_snapshot(tmp_path, keep={"main.py"})
    assert "Fix: add /.venv/ to" in finding.message


def test_the_findings_table_shows_names_with_brackets_as_they_are(tmp_path):
    """`my [file].bin` was printed as `my .bin`: the table read the message as rich markup."""
    from azure_trainer.azureml.preflight import format_findings

    _touch(tmp_path / "main.py")
    _sparse(tmp_path / "my [file].bin", 320 * MB)
    (finding,) = check_snapshot(tmp_path, keep={"main.py"})
    assert "my [file].bin (320.0 MB)" in format_findings([finding])


@pytest.mark.parametrize("name", ["big[1].bin", "*star?.bin", "#hash.bin", "!bang.bin", "trailing .bin "])
def test_suggested_lines_match_names_with_pattern_characters(tmp_path, name):
    _touch(tmp_path / "train.py")
    _sparse(tmp_path / name, 310 * MB)
    (finding,) = check_snapshot(tmp_path, keep={"train.py"})
    assert finding.code == "snapshot-too-large"
    _follow(tmp_path, finding.message)
    assert _sdk_upload_set(tmp_path) == {"train.py", ".amlignore"}


def test_too_many_files_advice_picks_the_folders_with_most_files(tmp_path):
    _touch(tmp_path / "train.py")
    for folder, count in (("a", 1500), ("b", 900), ("c", 10)):
        (tmp_path / folder).mkdir()
        for i in range(count):
            (tmp_path / folder / f"{i}").touch()
    (finding,) = check_snapshot(tmp_path, keep={"train.py"})
    assert "Fix: add /a/ to" in finding.message  # 1,500 out brings it under 2,000
    _follow(tmp_path, finding.message)
    assert check_snapshot(tmp_path) == []
