"""The MVNet starter set, built from real material that ships with the repo or inside wheels:
music21 corpus scores rendered to audio with FluidSynth, the bundled recordings, and the dated
paintings, as the CSV format of `livestyle.train.data.read_year_csv`. (The STNet set is built by
livestyle.train.stnet_data.)
"""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import numpy as np

from livestyle.errors import UserError

REPO = Path(__file__).resolve().parents[2]
PAINTINGS = REPO / "data" / "paintings"
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ MVNet starter set

# Composer (music21 corpus folder) -> a representative year of composition. Approximate (the
# corpus has almost no dates): the middle of the composer's main output, or the piece's date where
# well known. Era bins of 50 years make a few years of error immaterial.
COMPOSER_YEARS = {
    "josquin": 1500, "lusitano": 1553, "palestrina": 1570, "monteverdi": 1610, "corelli": 1700,
    "handel": 1720, "bach": 1730, "cpebach": 1765, "haydn": 1780, "mozart": 1785,
    "beethoven": 1805, "weber": 1820, "schubert": 1825, "chopin": 1835, "schumann_robert": 1845,
    "schumann_clara": 1845, "verdi": 1860, "liliuokalani": 1890, "beach": 1900, "joplin": 1902,
    "johnson_j_r": 1905, "schoenberg": 1910, "webern": 1925,
}
RECORDINGS = {  # bundled real recordings (data/audio): file -> year
    "brahms_hungarian_dance_5.ogg": 1869,
    "tchaikovsky_sugar_plum_fairy_macleod.ogg": 1892,
}
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
              "/usr/share/sounds/sf2/default-GM.sf2")
MIN_PIECE_SECONDS = 12.0
TARGET_RMS_DBFS = -20.0


def find_soundfont() -> Path:
    for candidate in SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise UserError("no General MIDI soundfont found; install Debian's fluid-soundfont-gm "
                    "(apt-get install fluidsynth fluid-soundfont-gm)")


def normalise_loudness(audio: np.ndarray) -> np.ndarray:
    """Scale to -20 dBFS RMS, then keep peaks under -1 dBFS."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rms < 1e-6:
        return audio
    audio = audio * (10 ** (TARGET_RMS_DBFS / 20) / rms)
    peak = float(np.abs(audio).max())
    limit = 10 ** (-1 / 20)
    return audio * (limit / peak) if peak > limit else audio


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import wave

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(pcm.tobytes())


def render_midi(midi: Path, wav: Path, soundfont: Path, sample_rate: int, timeout: float) -> bool:
    """FluidSynth, offline, under a timeout (one corpus file makes it run forever)."""
    import subprocess

    try:
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-F", str(wav),
                        str(soundfont), str(midi)], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UserError("fluidsynth not found; install Debian's fluidsynth package") from None
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return False
    return wav.is_file() and wav.stat().st_size > 44


def build_mvnet_starter(out: Path, pieces_per_composer: int = 6, sample_rate: int = 22050,
                        timeout: float = 60.0, progress: bool = True) -> dict[str, int]:
    """audio/ + audio.csv (music21 pieces rendered with FluidSynth, plus the bundled recordings),
    images/ + images.csv (the bundled dated paintings)."""
    import tempfile

    from music21 import corpus
    from tqdm import tqdm

    from livestyle.io.decode import load_audio

    soundfont = find_soundfont()
    audio_dir, image_dir = out / "audio", out / "images"
    for d in (audio_dir, image_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)

    rows = []
    for name, year in RECORDINGS.items():
        shutil.copy(REPO / "data" / "audio" / name, audio_dir / name)
        rows.append((f"audio/{name}", year, Path(name).stem))

    jobs = []
    for composer, year in COMPOSER_YEARS.items():
        paths = sorted(p for p in corpus.getComposer(composer)
                       if p.suffix in (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid"))
        step = max(1, len(paths) // pieces_per_composer)
        jobs += [(composer, year, p) for p in paths[::step][:pieces_per_composer]]
    skipped = 0
    with tempfile.TemporaryDirectory() as tmp:
        for composer, year, score_path in tqdm(jobs, desc="rendering music21 pieces", disable=not progress):
            stem = f"{composer}_{score_path.stem}".replace(" ", "_")
            midi, wav = Path(tmp) / f"{stem}.mid", Path(tmp) / f"{stem}.wav"
            try:
                corpus.parse(score_path).write("midi", fp=str(midi))
            except Exception as exc:  # noqa: BLE001 - music21 raises many kinds on odd scores
                log.warning("skipping %s: music21 cannot convert it (%s)", score_path.name, exc)
                skipped += 1
                continue
            if not render_midi(midi, wav, soundfont, sample_rate, timeout):
                log.warning("skipping %s: FluidSynth failed or timed out", score_path.name)
                skipped += 1
                continue
            audio = load_audio(wav, sample_rate)
            if len(audio) < MIN_PIECE_SECONDS * sample_rate:
                skipped += 1
                continue
            write_wav(audio_dir / f"{stem}.wav", normalise_loudness(audio), sample_rate)
            rows.append((f"audio/{stem}.wav", year, f"{composer}: {score_path.stem}"))
    write_csv(out / "audio.csv", rows)

    images = []
    with open(PAINTINGS / "paintings.csv", newline="") as f:
        for row in csv.DictReader(f):
            shutil.copy(PAINTINGS / row["file"], image_dir / row["file"])
            images.append((f"images/{row['file']}", int(row["year"]), f"{row['artist']}: {row['title']}"))
    write_csv(out / "images.csv", images)
    (out / "SOURCES.md").write_text(
        "Built by `livestyle data starter`. Audio: scores from the music21 corpus (see music21's "
        "licence notes) rendered with FluidSynth and the FluidR3 GM soundfont (MIT), years from "
        "livestyle/train/mvnet_data.py COMPOSER_YEARS; recordings and paintings from data/ "
        "(licences in data/README.md).\n")
    return {"audio": len(rows), "images": len(images), "skipped": skipped}


def write_csv(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "year", "title"])
        writer.writerows(rows)
