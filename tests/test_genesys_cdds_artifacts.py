"""Decrypt, rejoin and extract CDDS artifacts made with the real tools (openssl smime, Info-ZIP zip -s).

Every failure must name the file at fault and leave nothing behind in the working directory.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from contact_center_provider.transforms.artifact_errors import (
    ArchiveLimitError,
    CorruptArtifactError,
    MissingPartError,
    UnsafeMemberError,
    WrongKeyError,
)
from contact_center_provider.transforms.cdds_artifacts import ArtifactPart, open_export
from contact_center_provider.transforms.genesys_cdds import build_tables
from contact_center_provider.transforms.safe_extract import ExtractLimits, check_member_name
from contact_center_provider.transforms.smime import decrypt_file, load_smime_key
from contact_center_provider.transforms.split_zip import SplitZipJoiner, group_parts
from tests.genesys_cdds_fixtures import (
    OPENSSL,
    Pair,
    interaction_records,
    make_pair,
    needs_openssl,
    needs_zip,
    smime_encrypt,
    write_jsonl,
    zip_split,
)

EXPORT = "export-2b710a2c-0e7f-4918-983c-c02d108eaeb0"
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return make_pair(tmp_path_factory.mktemp("pair"))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def _export_sources(tmp_path: Path, count: int = 300) -> tuple[Path, list[dict[str, object]]]:
    source = tmp_path / "src"
    records = interaction_records(count, start=START)
    write_jsonl(source / "ContactHistory" / f"Interaction-{EXPORT}.json", records)
    write_jsonl(
        source / "ContactHistory" / f"Interaction-Attachment-{EXPORT}.json",
        [{"ID": "D1", "DOCUMENTID": "D1", "ENTITYID": records[0]["IXNID"], "ENTITYTYPEID": 0, "THESIZE": 3}],
    )
    return source, records


def _made_with_cli(
    tmp_path: Path, pair: Pair, cipher: str, *zip_args: str
) -> tuple[list[ArtifactPart], list]:
    source, records = _export_sources(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    parts = zip_split(source, out / f"{EXPORT}.zip", "64k", *zip_args)
    encrypted = smime_encrypt(parts, pair.cert_path, cipher)
    return [ArtifactPart(p.name, str(p)) for p in encrypted], records


def _nothing_left(workdir: Path) -> None:
    assert list(workdir.iterdir()) == [], f"left behind: {list(workdir.iterdir())}"


# -- the done-when round trips ------------------------------------------------------------


@needs_openssl
@needs_zip
@pytest.mark.parametrize(("cipher", "method"), [("-aes256", "cryptography"), ("-des3", "openssl")])
def test_cli_made_split_export_decrypts_rejoins_and_converts(
    tmp_path: Path, pair: Pair, workdir: Path, cipher: str, method: str
) -> None:
    parts, records = _made_with_cli(tmp_path, pair, cipher)
    assert len(parts) >= 3, "the export should be split into several parts"
    key = load_smime_key(pair.key_pem, pair.cert_pem)

    opened = open_export(list(reversed(parts)), key, str(workdir))

    assert [r.name for r in opened.parts] == [
        p.name for p in parts
    ]  # archive order, whatever the input order
    assert {r.method for r in opened.parts} == {method}
    assert not opened.zip64
    tables = build_tables([(m.name, m.path) for m in opened.members], "interactions")
    interactions = tables.tables["interactions"]
    assert interactions.column("ixnid").to_pylist() == [r["IXNID"] for r in records]
    assert interactions.column("status").to_pylist() == [r["STATUS"] for r in records]
    # Timestamps compared as epoch milliseconds: to_pylist() on them would import pandas (seconds).
    assert interactions.column("startdate").cast(pa.int64())[0].as_py() == int(START.timestamp() * 1000)
    assert interactions.column("allattributes_map")[0].as_py() == [
        ("Seq", "0"),
        ("Queue", "Billing"),
        ("IWAttachedDataInformation", '{"k":"v"}'),
    ]
    assert tables.rows["documents"] == 1
    assert tables.unknown_fields == {}


@needs_openssl
@needs_zip
def test_zip64_split_set_is_rejoined(tmp_path: Path, pair: Pair, workdir: Path) -> None:
    parts, _ = _made_with_cli(tmp_path, pair, "-aes256", "-fz")  # force ZIP64 records
    opened = open_export(parts, load_smime_key(pair.key_pem, pair.cert_pem), str(workdir))
    assert opened.zip64
    names = sorted(m.name for m in opened.members)
    assert names == [
        f"ContactHistory/Interaction-Attachment-{EXPORT}.json",
        f"ContactHistory/Interaction-{EXPORT}.json",
    ]


@needs_openssl
@needs_zip
def test_rejoined_zip_is_an_ordinary_zip_for_other_readers(tmp_path: Path, pair: Pair) -> None:
    source, _ = _export_sources(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    parts = zip_split(source, out / f"{EXPORT}.zip", "64k")
    sets, _ = group_parts(p.name for p in parts)
    joined = tmp_path / "joined.zip"
    with SplitZipJoiner(str(joined), [p.name for p in sets[EXPORT].ordered()], sets[EXPORT]) as joiner:
        for part in parts:
            with joiner.part(part.name) as sink:
                sink.write(part.read_bytes())
        joiner.finish()
    # Python's zipfile fails on the naive concatenation (notes 5.3); Info-ZIP's unzip accepts ours.
    naive = zipfile.ZipFile(io.BytesIO(b"".join(p.read_bytes() for p in parts)))
    with pytest.raises(zipfile.BadZipFile):
        naive.read(naive.infolist()[0])
    result = subprocess.run(["unzip", "-tq", str(joined)], capture_output=True, text=True)
    if result.returncode == 127:
        pytest.skip("unzip is not installed")
    assert result.returncode == 0, result.stdout + result.stderr


# -- failures: each names the file and leaves nothing ----------------------------------------


@needs_openssl
@needs_zip
@pytest.mark.parametrize("cipher", ["-aes256", "-des3"])
def test_wrong_key_names_the_part(tmp_path: Path, pair: Pair, workdir: Path, cipher: str) -> None:
    parts, _ = _made_with_cli(tmp_path, pair, cipher)
    other = make_pair(tmp_path, "someone-else")
    with pytest.raises(WrongKeyError) as caught:
        open_export(parts, load_smime_key(other.key_pem, other.cert_pem), str(workdir))
    assert caught.value.file == parts[0].name
    assert "not encrypted to the configured certificate (CN=someone-else" in str(caught.value)
    _nothing_left(workdir)


@needs_openssl
@needs_zip
def test_missing_part_in_the_middle_is_named(tmp_path: Path, pair: Pair, workdir: Path) -> None:
    parts, _ = _made_with_cli(tmp_path, pair, "-aes256")
    with pytest.raises(MissingPartError) as caught:
        open_export(
            [p for p in parts if ".z02." not in p.name],
            load_smime_key(pair.key_pem, pair.cert_pem),
            str(workdir),
        )
    assert caught.value.file == f"{EXPORT}.z02.smime"
    _nothing_left(workdir)


@needs_openssl
@needs_zip
def test_missing_last_numbered_part_is_found_by_the_archive(
    tmp_path: Path, pair: Pair, workdir: Path
) -> None:
    parts, _ = _made_with_cli(tmp_path, pair, "-aes256")
    last_numbered = parts[-2].name  # names alone look complete without it
    with pytest.raises(MissingPartError) as caught:
        open_export(
            [p for p in parts if p.name != last_numbered],
            load_smime_key(pair.key_pem, pair.cert_pem),
            str(workdir),
        )
    assert caught.value.file == last_numbered
    assert f"the archive has {len(parts)} parts but only {len(parts) - 1} were supplied" in str(caught.value)
    _nothing_left(workdir)


@needs_openssl
@needs_zip
def test_truncated_encrypted_part_is_named(tmp_path: Path, pair: Pair, workdir: Path) -> None:
    parts, _ = _made_with_cli(tmp_path, pair, "-aes256")
    damaged = Path(parts[1].path)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(CorruptArtifactError) as caught:
        open_export(parts, load_smime_key(pair.key_pem, pair.cert_pem), str(workdir))
    assert caught.value.file == parts[1].name
    _nothing_left(workdir)


@needs_openssl
@needs_zip
def test_part_damaged_at_the_source_fails_its_member_crc(tmp_path: Path, pair: Pair, workdir: Path) -> None:
    source, _ = _export_sources(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    plain = zip_split(source, out / f"{EXPORT}.zip", "64k")
    middle = plain[1]  # member data only: flip bytes before encrypting, as a bad export would be
    data = bytearray(middle.read_bytes())
    data[5000:5008] = bytes(b ^ 0xFF for b in data[5000:5008])
    middle.write_bytes(bytes(data))
    parts = [ArtifactPart(p.name, str(p)) for p in smime_encrypt(plain, pair.cert_path)]
    with pytest.raises(CorruptArtifactError) as caught:
        open_export(parts, load_smime_key(pair.key_pem, pair.cert_pem), str(workdir))
    message = str(caught.value)
    assert f"member 'ContactHistory/Interaction-{EXPORT}.json'" in message
    assert middle.name + ".smime" in message or f"{EXPORT}.z01.smime …" in message
    _nothing_left(workdir)


def _encrypt_zip(tmp_path: Path, pair: Pair, members: dict[str, bytes]) -> list[ArtifactPart]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    cert = x509.load_pem_x509_certificate(pair.cert_pem.encode())
    envelope = pkcs7.PKCS7EnvelopeBuilder().set_data(buffer.getvalue()).add_recipient(cert)
    path = tmp_path / f"{EXPORT}.zip.smime"
    path.write_bytes(envelope.encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary]))
    return [ArtifactPart(path.name, str(path))]


def test_member_climbing_out_is_refused_before_anything_is_written(
    tmp_path: Path, pair: Pair, workdir: Path
) -> None:
    parts = _encrypt_zip(
        tmp_path, pair, {f"Interaction-{EXPORT}.json": b"{}\n", "../../evil.json": b'{"x": 1}\n'}
    )
    with pytest.raises(UnsafeMemberError) as caught:
        open_export(parts, load_smime_key(pair.key_pem, pair.cert_pem), str(workdir))
    assert "'../../evil.json'" in str(caught.value)
    assert f"{EXPORT}.zip" in str(caught.value)
    _nothing_left(workdir)
    assert not (tmp_path / "evil.json").exists() and not (tmp_path.parent / "evil.json").exists()


def test_zip_bomb_is_refused_from_its_declared_ratio(tmp_path: Path, pair: Pair, workdir: Path) -> None:
    parts = _encrypt_zip(tmp_path, pair, {"Interaction-bomb.json": b" " * (20 * 1024 * 1024)})
    with pytest.raises(ArchiveLimitError) as caught:
        open_export(parts, load_smime_key(pair.key_pem, pair.cert_pem), str(workdir))
    assert "'Interaction-bomb.json'" in str(caught.value)
    assert "compression-ratio limit of 200x" in str(caught.value)
    _nothing_left(workdir)


def test_size_limit_stops_extraction_and_removes_what_was_written(
    tmp_path: Path, pair: Pair, workdir: Path
) -> None:
    parts = _encrypt_zip(tmp_path, pair, {"a.json": os.urandom(3000), "b.json": os.urandom(3000)})
    with pytest.raises(ArchiveLimitError) as caught:
        open_export(
            parts,
            load_smime_key(pair.key_pem, pair.cert_pem),
            str(workdir),
            limits=ExtractLimits(max_total_bytes=4000),
        )
    assert "more than the limit of 4000 bytes" in str(caught.value)
    _nothing_left(workdir)


def test_symbolic_link_member_is_refused(tmp_path: Path, pair: Pair, workdir: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link.json")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    path = tmp_path / f"{EXPORT}.zip"  # an already-decrypted drop: taken as it is
    path.write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeMemberError, match="symbolic link"):
        open_export(
            [ArtifactPart(path.name, str(path))], load_smime_key(pair.key_pem, pair.cert_pem), str(workdir)
        )
    _nothing_left(workdir)


@pytest.mark.parametrize(
    "name", ["../x.json", "a/../../x.json", "/etc/x.json", "C:/x.json", "a\\..\\x.json", "", "./"]
)
def test_unsafe_member_names(name: str) -> None:
    with pytest.raises(UnsafeMemberError):
        check_member_name(name, "export.zip")


def test_safe_member_names_keep_their_folders() -> None:
    assert check_member_name("ContactHistory/./Interaction-1.json", "e.zip") == [
        "ContactHistory",
        "Interaction-1.json",
    ]


# -- the key never touches the disk ---------------------------------------------------------------


@needs_openssl
def test_openssl_fallback_gets_the_key_through_a_pipe(
    tmp_path: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(5000))
    (encrypted,) = smime_encrypt([payload], pair.cert_path, "-des3")
    spy_dir = tmp_path / "spy"
    spy_dir.mkdir()
    # A wrapper records how openssl is called and what its key argument is, then runs the real one.
    wrapper = spy_dir / "openssl"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {spy_dir}/argv\n'
        'for a in "$@"; do case "$a" in /dev/fd/*) stat -L -c %F "$a" >> ' + f"{spy_dir}/kinds;; esac; done\n"
        f'exec {OPENSSL} "$@"\n'
    )
    wrapper.chmod(0o755)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    out = io.BytesIO()

    result = decrypt_file(
        str(encrypted), out, load_smime_key(pair.key_pem, pair.cert_pem), openssl=str(wrapper)
    )

    assert result.method == "openssl" and result.reason == "cipher"
    assert out.getvalue() == payload.read_bytes()
    argv = (spy_dir / "argv").read_text().split("\n")
    key_arg = argv[argv.index("-inkey") + 1]
    assert key_arg.startswith("/dev/fd/")
    assert set((spy_dir / "kinds").read_text().split("\n")) - {""} == {"fifo"}  # pipes, not files
    assert list(temp.iterdir()) == []
    key_body = pair.key_pem.splitlines()[1].encode()
    for path in [*tmp_path.rglob("*"), *Path(pair.cert_path).parent.rglob("*")]:
        if path.is_file():
            assert key_body not in path.read_bytes(), f"key material found in {path}"


def test_key_and_certificate_must_be_a_pair(tmp_path: Path) -> None:
    one, two = make_pair(tmp_path, "one"), make_pair(tmp_path, "two")
    with pytest.raises(ValueError, match="private_key does not belong to certificate CN=two") as caught:
        load_smime_key(one.key_pem, two.cert_pem, source="Connection 'cdds'")
    assert one.key_pem.splitlines()[1] not in str(caught.value)
    assert "'***'" in repr(load_smime_key(one.key_pem, one.cert_pem))


def test_pem_with_escaped_newlines_from_a_form_is_accepted(tmp_path: Path) -> None:
    one = make_pair(tmp_path)
    key = load_smime_key(one.key_pem.replace("\n", "\\n"), one.cert_pem.replace("\n", "\\n"))
    assert key.describe().startswith("CN=cdds-test")


@needs_openssl
def test_passphrase_protected_key_decrypts_3des_through_openssl(tmp_path: Path, pair: Pair) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pair.key_pem.encode(), None)
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    ).decode()
    payload = tmp_path / "p.bin"
    payload.write_bytes(b"payload" * 100)
    (encrypted,) = smime_encrypt([payload], pair.cert_path, "-des3")
    with pytest.raises(ValueError, match="wrong or missing passphrase"):
        load_smime_key(locked, pair.cert_pem)
    out = io.BytesIO()
    assert (
        decrypt_file(str(encrypted), out, load_smime_key(locked, pair.cert_pem, "s3cret")).method == "openssl"
    )
    assert out.getvalue() == payload.read_bytes()


@needs_openssl
@pytest.mark.parametrize("outform", ["SMIME", "PEM", "DER"])
def test_every_encoding_and_the_streaming_path(tmp_path: Path, pair: Pair, outform: str) -> None:
    assert OPENSSL is not None
    payload = tmp_path / "p.bin"
    payload.write_bytes(os.urandom(70_000))
    target = tmp_path / f"p.{outform}.smime"
    command = [OPENSSL, "smime", "-encrypt", "-binary", "-aes256", "-outform", outform]
    subprocess.run([*command, "-in", str(payload), "-out", str(target), str(pair.cert_path)], check=True)
    key = load_smime_key(pair.key_pem, pair.cert_pem)
    in_memory, streamed = io.BytesIO(), io.BytesIO()
    assert decrypt_file(str(target), in_memory, key).method == "cryptography"
    result = decrypt_file(
        str(target), streamed, key, max_in_memory=1024
    )  # larger parts stream through openssl
    assert (result.method, result.reason) == ("openssl", "size")
    assert in_memory.getvalue() == streamed.getvalue() == payload.read_bytes()


def test_part_names_past_99_follow_info_zip() -> None:
    names = [f"export-x.z{n:02d}.smime" for n in range(1, 102) if n != 100] + ["export-x.zip.smime"]
    sets, others = group_parts(names)
    assert others == [] and sets["export-x"].missing() == ["export-x.z100.smime"]
    assert sets["export-x"].ordered()[98].name == "export-x.z99.smime"
