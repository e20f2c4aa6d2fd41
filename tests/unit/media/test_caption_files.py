import json

import pytest

from imgsearch_core.media.caption_files import ALT_CAPTIONS_KEY, ALT_CAPTIONS_SEPARATOR, CaptionFileError, parse_caption_file


def test_csv_with_extra_columns_and_bom():
    data = "\ufefffilename,Caption,photographer,year\nA.jpg,A red boat,Ann,2021\nsub/b.png,Snowy hill,,\n".encode()
    table = parse_caption_file(data, "captions.csv")
    assert table.lookup("a.jpg") == ("A red boat", {"photographer": "Ann", "year": "2021"})
    assert table.lookup("other/dir/b.png") is None  # relative path differs and bare name b.png
    assert table.lookup("sub/b.png")[0] == "Snowy hill"
    assert table.unused() == []


def test_bare_name_fallback_and_unused_rows():
    table = parse_caption_file(b"file,text\nx.jpg,one\nmissing.jpg,two\n", "c.csv")
    assert table.lookup("deep/folder/x.jpg")[0] == "one"
    assert table.unused() == ["missing.jpg"]


def test_json_forms():
    as_map = parse_caption_file(json.dumps({"a.jpg": "first"}).encode(), "c.json")
    assert as_map.lookup("a.jpg")[0] == "first"
    as_list = parse_caption_file(json.dumps([{"image": "b.jpg", "caption": "second", "tag": "x"}]).encode(), "c.json")
    assert as_list.lookup("b.jpg") == ("second", {"tag": "x"})
    jsonl = parse_caption_file(b'{"file_name": "c.jpg", "description": "third"}\n\n', "c.jsonl")
    assert jsonl.lookup("c.jpg")[0] == "third"


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"a,b\n1,2\n", "c.csv", "file-name column"),
        (b"file,notes\nx.jpg,1\n", "c.csv", "caption column"),
        (b"{not json", "c.json", "cannot parse"),
        (b"[1, 2]", "c.json", "list of objects"),
        (b"\xff\xfe\x00bad", "c.csv", "not UTF-8"),
        (b"file,caption\n", "c.csv", "no rows"),
        (b"x", "c.xlsx", "unsupported"),
    ],
)
def test_bad_caption_files_raise_clear_errors(data, name, message):
    with pytest.raises(CaptionFileError, match=message):
        parse_caption_file(data, name)


def test_repeated_rows_become_alternative_captions():
    data = b"file,caption\na.jpg,Boats in the harbour\na.jpg,Fishing boats at dawn\na.jpg,Boats in the harbour\nb.jpg,Snow\n"
    table = parse_caption_file(data, "captions.csv")
    caption, extra = table.lookup("a.jpg")
    assert caption == "Boats in the harbour"
    assert extra[ALT_CAPTIONS_KEY].split(ALT_CAPTIONS_SEPARATOR) == ["Fishing boats at dawn"]
    assert table.lookup("b.jpg") == ("Snow", {})
