"""PolyDis, the chord/texture disentanglement VAE Vis2Mus transforms (spec_vis2mus.md §2), in one
code path for the full 27.3 M-parameter model and small configs (every size is in PolyDisConfig).

  chord encoder     Bi-GRU over the 8 beat rows (8,36)            -> q(z_chd)
  texture encoder   CNN over the duration matrix -> the (10,8,29) feature map Vis2Mus edits
                    (`feature_map`), then raw reshape (8,290) [quirk kept: the original weights
                    expect it], two linears, Bi-GRU                 -> q(z_txt)   (`from_feature_map`)
  PianoTree decoder time GRU over 32 steps, note GRU over up to 15 notes a step, a 5-step GRU
                    per note for the duration bits                  -> pitch (130) and bit logits
  chord decoder     8 autoregressive steps                         -> root, chroma, bass logits

Latents are diagonal Gaussians with mu = Linear(h), sigma = exp(Linear(h)) (log-sigma, as the
original). Teacher forcing tosses one coin per decoding step for the whole batch, through the
caller's torch.Generator, so runs are reproducible. With both decoder ratios at 1 the decoder
takes a parallel path (one call of the time GRU over the sequence, one of the note GRU over all
steps' notes) that equals the loop (tests/test_vis2mus_model.py) and is several times faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

from livestyle.vis2mus.representation import BEATS, DUR_BITS, DUR_PAD, EOS, PAD, SLOTS, SOS, STEPS

PITCH_CLASSES = 130          # 0..127, sos, eos (pad is not a class)
NOTE_SIZE = PITCH_CLASSES + DUR_BITS


@dataclass
class PolyDisConfig:
    """Sizes; the defaults are the published model (27,310,079 parameters)."""
    z_chd: int = 256
    z_txt: int = 256
    chord_hidden: int = 1024
    txt_channels: int = 10
    txt_fc1: int = 1000
    txt_fc2: int = 256
    txt_hidden: int = 1024
    note_emb: int = 128
    time_hidden: int = 1024
    z_in: int = 256
    summary_hidden: int = 128     # Bi-GRU: summaries are twice this
    notes_hidden: int = 512
    dur_hidden: int = 64
    chord_dec_hidden: int = 512
    chord_dec_in: int = 256

    @classmethod
    def small(cls) -> "PolyDisConfig":
        """The starter-weights size: every GRU 64-192 wide (a CPU trains it in hours)."""
        return cls(z_chd=64, z_txt=64, chord_hidden=128, txt_fc1=192, txt_fc2=96, txt_hidden=128,
                   note_emb=48, time_hidden=192, z_in=64, summary_hidden=48, notes_hidden=128,
                   dur_hidden=32, chord_dec_hidden=96, chord_dec_in=64)


def _gaussian(mu: torch.Tensor, log_sigma: torch.Tensor) -> Normal:
    return Normal(mu, log_sigma.exp())


def _bi_final(h_n: torch.Tensor) -> torch.Tensor:
    """(2, B, H) final states -> (B, 2H) as [forward, backward]."""
    return h_n.transpose(0, 1).reshape(h_n.shape[1], -1)


class ChordEncoder(nn.Module):
    def __init__(self, cfg: PolyDisConfig):
        super().__init__()
        self.gru = nn.GRU(36, cfg.chord_hidden, batch_first=True, bidirectional=True)
        self.linear_mu = nn.Linear(2 * cfg.chord_hidden, cfg.z_chd)
        self.linear_var = nn.Linear(2 * cfg.chord_hidden, cfg.z_chd)   # log sigma, the original's name

    def forward(self, c: torch.Tensor) -> Normal:
        _, h = self.gru(c)
        h = _bi_final(h)
        return _gaussian(self.linear_mu(h), self.linear_var(h))


class TextureEncoder(nn.Module):
    def __init__(self, cfg: PolyDisConfig):
        super().__init__()
        self.channels = cfg.txt_channels
        self.cnn = nn.Sequential(nn.Conv2d(1, cfg.txt_channels, (4, 12), stride=(4, 1)), nn.ReLU(),
                                 nn.MaxPool2d((1, 4), stride=(1, 4)))
        self.fc1 = nn.Linear(cfg.txt_channels * 29, cfg.txt_fc1)
        self.fc2 = nn.Linear(cfg.txt_fc1, cfg.txt_fc2)
        self.gru = nn.GRU(cfg.txt_fc2, cfg.txt_hidden, batch_first=True, bidirectional=True)
        self.linear_mu = nn.Linear(2 * cfg.txt_hidden, cfg.z_txt)
        self.linear_var = nn.Linear(2 * cfg.txt_hidden, cfg.z_txt)

    def feature_map(self, pr_mat: torch.Tensor) -> torch.Tensor:
        """(B,32,128) durations -> (B, channels, 8, 29) non-negative: per channel an image of 8
        beats x 29 pitch bands, what Vis2Mus brightens and contrasts."""
        return self.cnn(pr_mat.unsqueeze(1))

    def from_feature_map(self, fmap: torch.Tensor) -> Normal:
        x = fmap.reshape(fmap.shape[0], BEATS, -1)   # row-major, no permute: the original's layout
        x = self.fc2(self.fc1(x))                     # no activation between them, as the original
        _, h = self.gru(x)
        h = _bi_final(h)
        return _gaussian(self.linear_mu(h), self.linear_var(h))

    def forward(self, pr_mat: torch.Tensor) -> Normal:
        return self.from_feature_map(self.feature_map(pr_mat))


def note_vectors(tree: torch.Tensor) -> torch.Tensor:
    """(..., 6) int slots -> (..., 135): one-hot pitch over 130 classes (pad: zeros) and the five
    duration values as numbers (2.0 on sos/eos/pad, as the original)."""
    pitch = tree[..., 0]
    onehot = F.one_hot(pitch.clamp(max=PAD), PAD + 1)[..., :PAD].float()
    return torch.cat([onehot, tree[..., 1:].float()], -1)


class PianoTreeDecoder(nn.Module):
    def __init__(self, cfg: PolyDisConfig):
        super().__init__()
        z = cfg.z_chd + cfg.z_txt
        self.note_embedding = nn.Linear(NOTE_SIZE, cfg.note_emb)
        self.z2dec_hid_linear = nn.Linear(z, cfg.time_hidden)
        self.z2dec_in_linear = nn.Linear(z, cfg.z_in)
        self.dec_notes_emb_gru = nn.GRU(cfg.note_emb, cfg.summary_hidden, batch_first=True, bidirectional=True)
        self.dec_time_gru = nn.GRU(2 * cfg.summary_hidden + cfg.z_in, cfg.time_hidden, batch_first=True)
        self.dec_time_to_notes_hid = nn.Linear(cfg.time_hidden, cfg.notes_hidden)
        self.dec_notes_gru = nn.GRU(cfg.time_hidden + cfg.note_emb, cfg.notes_hidden, batch_first=True)
        self.pitch_out_linear = nn.Linear(cfg.notes_hidden, PITCH_CLASSES)
        self.dur_hid_linear = nn.Linear(cfg.notes_hidden + PITCH_CLASSES, cfg.dur_hidden)
        self.dec_dur_gru = nn.GRU(DUR_BITS, cfg.dur_hidden, batch_first=True)
        self.dur_out_linear = nn.Linear(cfg.dur_hidden, 2)
        self.dec_init_input = nn.Parameter(torch.rand(2 * cfg.summary_hidden))
        self.dur_sos_token = nn.Parameter(torch.rand(DUR_BITS))

    # -- pieces
    def summarise(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(N, L, E) note embeddings with lengths -> (N, 2 summary_hidden) final bi-GRU states."""
        packed = nn.utils.rnn.pack_padded_sequence(emb, lengths.clamp(min=1).cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.dec_notes_emb_gru(packed)
        return _bi_final(h)

    def gt_summaries(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Ground-truth summary of each step: its sos, notes and eos (the slots before the pad)."""
        b = x.shape[0]
        lengths = (x[..., 0] != PAD).sum(-1).reshape(-1)
        return self.summarise(emb.reshape(b * STEPS, SLOTS, -1), lengths).reshape(b, STEPS, -1)

    def durations(self, o: torch.Tensor, pitch_logits: torch.Tensor) -> torch.Tensor:
        """(N, notes_hidden), (N, 130) -> (N, 5, 2) bit logits, free-running over the 5 bits; the
        token fed back is a one-hot at position 0 or 1 of a 5-vector (the original's quirk)."""
        h = self.dur_hid_linear(torch.cat([o, pitch_logits], -1)).unsqueeze(0)
        tok = self.dur_sos_token.expand(o.shape[0], DUR_BITS).unsqueeze(1)
        out = []
        for _ in range(DUR_BITS):
            y, h = self.dec_dur_gru(tok, h)
            logits = self.dur_out_linear(y[:, 0])
            out.append(logits)
            tok = F.one_hot(logits.argmax(-1), DUR_BITS).float().unsqueeze(1)
        return torch.stack(out, 1)

    def predicted_embedding(self, pitch_logits: torch.Tensor, dur_logits: torch.Tensor) -> torch.Tensor:
        vec = torch.cat([F.one_hot(pitch_logits.argmax(-1), PITCH_CLASSES).float(), dur_logits.argmax(-1).float()], -1)
        return self.note_embedding(vec)

    def sos_embedding(self, b: int, device) -> torch.Tensor:
        sos = torch.full((b, 1 + DUR_BITS), DUR_PAD, dtype=torch.long, device=device)
        sos[:, 0] = SOS
        return self.note_embedding(note_vectors(sos))

    # -- decoding
    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None, tfr1: float = 0.0, tfr2: float = 0.0,
                generator: torch.Generator | None = None, parallel: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, z_chd + z_txt); x the ground-truth tree (B,32,16,6) for teacher forcing (None:
        greedy inference). Returns pitch logits (B,32,15,130) and bit logits (B,32,15,5,2).
        `parallel=False` keeps the loop even when both ratios are 1 (tests compare the two)."""
        if parallel and x is not None and tfr1 >= 1.0 and tfr2 >= 1.0:
            return self.teacher_forced(z, x)
        b, device = z.shape[0], z.device
        emb = summaries = None
        if x is not None:
            emb = self.note_embedding(note_vectors(x))
            summaries = self.gt_summaries(x, emb)
        h_time = self.z2dec_hid_linear(z).unsqueeze(0)
        z_in = self.z2dec_in_linear(z)
        tok_time = self.dec_init_input.expand(b, -1)
        sos = self.sos_embedding(b, device)
        pitches, durs = [], []
        for t in range(STEPS):
            s, h_time = self.dec_time_gru(torch.cat([tok_time, z_in], -1).unsqueeze(1), h_time)
            s = s[:, 0]
            h_note = self.dec_time_to_notes_hid(s).unsqueeze(0)
            tok_note = emb[:, t, 0] if emb is not None else sos
            predicted = [tok_note]
            lengths = torch.zeros(b, dtype=torch.long, device=device)
            step_p, step_d = [], []
            for n in range(1, SLOTS):
                o, h_note = self.dec_notes_gru(torch.cat([s, tok_note], -1).unsqueeze(1), h_note)
                o = o[:, 0]
                pitch_logits = self.pitch_out_linear(o)
                dur_logits = self.durations(o, pitch_logits)
                step_p.append(pitch_logits)
                step_d.append(dur_logits)
                e = self.predicted_embedding(pitch_logits, dur_logits)
                predicted.append(e)
                ended = (pitch_logits.argmax(-1) == EOS) & (lengths == 0)
                lengths = torch.where(ended, torch.full_like(lengths, n), lengths)
                tok_note = emb[:, t, n] if emb is not None and _coin(tfr2, generator) else e
            lengths = torch.where(lengths == 0, torch.full_like(lengths, SLOTS - 1), lengths)
            pitches.append(torch.stack(step_p, 1))
            durs.append(torch.stack(step_d, 1))
            if summaries is not None and _coin(tfr1, generator):
                tok_time = summaries[:, t]
            else:  # the predicted notes of this step, sos included, eos not (the original's choice)
                tok_time = self.summarise(torch.stack(predicted, 1), lengths)
        return torch.stack(pitches, 1), torch.stack(durs, 1)

    def teacher_forced(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both ratios 1: the loop's outputs from one call of the time GRU over [init, summaries of
        steps 0..30] and one call of the note GRU over every step's ground-truth slots 0..14."""
        b = z.shape[0]
        emb = self.note_embedding(note_vectors(x))
        summaries = self.gt_summaries(x, emb)
        z_in = self.z2dec_in_linear(z).unsqueeze(1).expand(b, STEPS, -1)
        prev = torch.cat([self.dec_init_input.expand(b, 1, -1), summaries[:, :-1]], 1)
        s, _ = self.dec_time_gru(torch.cat([prev, z_in], -1), self.z2dec_hid_linear(z).unsqueeze(0))
        s_flat = s.reshape(b * STEPS, -1)
        h_note = self.dec_time_to_notes_hid(s_flat).unsqueeze(0)
        notes_in = torch.cat([s_flat.unsqueeze(1).expand(-1, SLOTS - 1, -1),
                              emb[:, :, :SLOTS - 1].reshape(b * STEPS, SLOTS - 1, -1)], -1)
        o, _ = self.dec_notes_gru(notes_in, h_note)
        pitch_logits = self.pitch_out_linear(o)
        o_flat, p_flat = o.reshape(-1, o.shape[-1]), pitch_logits.reshape(-1, PITCH_CLASSES)
        dur_logits = self.durations(o_flat, p_flat)
        return (pitch_logits.reshape(b, STEPS, SLOTS - 1, PITCH_CLASSES),
                dur_logits.reshape(b, STEPS, SLOTS - 1, DUR_BITS, 2))

    @staticmethod
    def to_tree(pitch_logits: torch.Tensor, dur_logits: torch.Tensor) -> torch.Tensor:
        """Greedy outputs -> (B,32,15,6) int: pitch, b4..b0."""
        return torch.cat([pitch_logits.argmax(-1, keepdim=True), dur_logits.argmax(-1)], -1)


class ChordDecoder(nn.Module):
    def __init__(self, cfg: PolyDisConfig):
        super().__init__()
        self.z2dec_hid = nn.Linear(cfg.z_chd, cfg.chord_dec_hidden)
        self.z2dec_in = nn.Linear(cfg.z_chd, cfg.chord_dec_in)
        self.gru = nn.GRU(36 + cfg.chord_dec_in, cfg.chord_dec_hidden, batch_first=True)
        self.init_input = nn.Parameter(torch.rand(36))
        self.root_out = nn.Linear(cfg.chord_dec_hidden, 12)
        self.chroma_out = nn.Linear(cfg.chord_dec_hidden, 24)
        self.bass_out = nn.Linear(cfg.chord_dec_hidden, 12)

    def forward(self, z_chd: torch.Tensor, c: torch.Tensor | None = None, tfr3: float = 0.0,
                generator: torch.Generator | None = None):
        b = z_chd.shape[0]
        h = self.z2dec_hid(z_chd).unsqueeze(0)
        z_in = self.z2dec_in(z_chd)
        tok = self.init_input.expand(b, -1)
        roots, chromas, basses = [], [], []
        for t in range(BEATS):
            y, h = self.gru(torch.cat([tok, z_in], -1).unsqueeze(1), h)
            y = y[:, 0]
            root, chroma, bass = self.root_out(y), self.chroma_out(y).reshape(b, 12, 2), self.bass_out(y)
            roots.append(root)
            chromas.append(chroma)
            basses.append(bass)
            if c is not None and _coin(tfr3, generator):
                tok = c[:, t]
            else:
                tok = torch.cat([F.one_hot(root.argmax(-1), 12).float(), chroma.argmax(-1).float(),
                                 F.one_hot(bass.argmax(-1), 12).float()], -1)
        return torch.stack(roots, 1), torch.stack(chromas, 1), torch.stack(basses, 1)


def _coin(ratio: float, generator: torch.Generator | None) -> bool:
    """One teacher-forcing coin for the whole batch (as the original), from the caller's generator."""
    if ratio <= 0.0:
        return False
    if ratio >= 1.0:
        return True
    return bool(torch.rand((), generator=generator) < ratio)


class PolyDis(nn.Module):
    def __init__(self, cfg: PolyDisConfig | None = None):
        super().__init__()
        self.cfg = cfg or PolyDisConfig()
        self.chd_encoder = ChordEncoder(self.cfg)
        self.txt_encoder = TextureEncoder(self.cfg)
        self.pnotree_decoder = PianoTreeDecoder(self.cfg)
        self.chd_decoder = ChordDecoder(self.cfg)

    def encode(self, pr_mat: torch.Tensor, c: torch.Tensor) -> tuple[Normal, Normal]:
        return self.chd_encoder(c), self.txt_encoder(pr_mat)

    def decode(self, z_chd: torch.Tensor, z_txt: torch.Tensor) -> torch.Tensor:
        """Greedy PianoTree (B,32,15,6) from the two codes."""
        pitch, dur = self.pnotree_decoder(torch.cat([z_chd, z_txt], -1))
        return PianoTreeDecoder.to_tree(pitch, dur)

    def swap(self, pr_mat: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Texture of `pr_mat`, chords `c`, both posterior means: PolyDis's chord style transfer."""
        return self.decode(self.chd_encoder(c).mean, self.txt_encoder(pr_mat).mean)

    def loss(self, x: torch.Tensor, c: torch.Tensor, pr_mat: torch.Tensor, beta: float = 0.1,
             tfr1: float = 0.0, tfr2: float = 0.0, tfr3: float = 0.0,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Spec §2.5: recon (pitch + 0.5 duration) + beta (KL_chd + KL_txt) + chord. Samples the
        latents with the reparameterisation trick (noise from `generator`)."""
        q_chd, q_txt = self.encode(pr_mat, c)
        # noise drawn from the caller's (CPU) generator, then moved: one seed, the same run on any device
        z_chd = q_chd.mean + q_chd.stddev * torch.randn(q_chd.mean.shape, generator=generator).to(q_chd.mean)
        z_txt = q_txt.mean + q_txt.stddev * torch.randn(q_txt.mean.shape, generator=generator).to(q_txt.mean)
        pitch_logits, dur_logits = self.pnotree_decoder(torch.cat([z_chd, z_txt], -1), x, tfr1, tfr2, generator)
        root, chroma, bass = self.chd_decoder(z_chd, c, tfr3, generator)
        pitch = F.cross_entropy(pitch_logits.reshape(-1, PITCH_CLASSES), x[:, :, 1:, 0].reshape(-1), ignore_index=PAD)
        dur = F.cross_entropy(dur_logits.reshape(-1, 2), x[:, :, 1:, 1:].reshape(-1), ignore_index=DUR_PAD)
        recon = pitch + 0.5 * dur
        prior = Normal(torch.zeros_like(q_chd.mean), torch.ones_like(q_chd.mean))
        kl_chd = torch.distributions.kl_divergence(q_chd, prior).mean()
        kl_txt = torch.distributions.kl_divergence(q_txt, Normal(torch.zeros_like(q_txt.mean),
                                                                 torch.ones_like(q_txt.mean))).mean()
        has_chord = c[..., :12].sum(-1) > 0   # no-chord beats (all zeros) teach nothing
        chord_root = F.cross_entropy(root[has_chord], c[..., :12][has_chord].argmax(-1)) if has_chord.any() \
            else root.sum() * 0
        chord_chroma = F.cross_entropy(chroma.reshape(-1, 2), c[..., 12:24].reshape(-1).long())
        chord_bass = F.cross_entropy(bass[has_chord], c[..., 24:][has_chord].argmax(-1)) if has_chord.any() \
            else bass.sum() * 0
        chord = chord_root + chord_chroma + chord_bass
        kl = kl_chd + kl_txt
        return {"total": recon + beta * kl + chord, "recon": recon, "pitch": pitch, "dur": dur, "kl": kl,
                "kl_chd": kl_chd, "kl_txt": kl_txt, "chord": chord, "root": chord_root,
                "chroma": chord_chroma, "bass": chord_bass}
