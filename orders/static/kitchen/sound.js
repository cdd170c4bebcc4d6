// Sounds made on the spot with WebAudio (no audio files): browsers let a page play sound
// only after one tap, hence enable().

let audio = null;

// Each cue: [frequency in Hz, start in s, length in s, waveform].
const CUES = {
  newTicket: [[880, 0, 0.15, "sine"], [880, 0.2, 0.15, "sine"]],
};

export function enable() {
  audio = audio || new AudioContext();
  return audio.resume().then(() => play("newTicket"));
}

export function play(name) {
  if (!audio || audio.state !== "running") return false;
  const now = audio.currentTime;
  for (const [frequency, at, length, wave] of CUES[name]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = wave;
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.25, now + at);
    gain.gain.exponentialRampToValueAtTime(0.001, now + at + length);
    tone.connect(gain).connect(audio.destination);
    tone.start(now + at);
    tone.stop(now + at + length + 0.01);
  }
  return true;
}
