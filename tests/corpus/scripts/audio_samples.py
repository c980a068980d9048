"""A speech model's samples: mono and stereo, float and int16, a WAV file, log_audio."""

import numpy as np
import soundfile
import swanlab

sr = 8000
t = np.arange(sr // 10) / sr
tone = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
stereo = np.stack([tone, tone[::-1]])
pcm = (tone * 20000).astype(np.int16)
soundfile.write("ref.wav", tone, sr)

swanlab.init(project="audio_samples", experiment_name="tts-samples", config={"sample_rate": sr})
for step in range(2):
    swanlab.log(
        {
            "tts/mono": swanlab.Audio(tone * (step + 1) / 2, sample_rate=sr, caption=f"epoch {step}"),
            "tts/stereo": swanlab.Audio(stereo, sample_rate=sr),
            "tts/pcm16": swanlab.Audio(pcm, sample_rate=sr, caption="int16"),
            "tts/reference": swanlab.Audio("ref.wav"),
            "mel_loss": 1.5 - step,
        },
        step=step,
    )
swanlab.log_audio(key="tts/batch", data=[tone, tone[:400]], sample_rate=sr, caption=["full", "head"], step=2)
swanlab.finish()
