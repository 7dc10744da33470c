"""meld_layout: finding the clips of a folder."""

from tfds_meld.meld import meld_layout


def test_index_clips_prefix_and_junk(tmp_path):
    for name in ("dia1_utt2.mp4", "final_videos_testdia3_utt0.mp4", "._dia4_utt0.mp4",
                 "notes.txt", "final_videos_testdia1_utt2.mp4"):
        (tmp_path / name).write_bytes(b"")
    index = meld_layout.index_clips(tmp_path)
    assert {k: p.name for k, p in index.items()} == {
        (1, 2): "dia1_utt2.mp4", (3, 0): "final_videos_testdia3_utt0.mp4"
    }
