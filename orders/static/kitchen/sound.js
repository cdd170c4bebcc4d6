// Sounds made on the spot with WebAudio (no audio files): browsers let a page play sound
// only after one tap, hence enable().

let audio = null;

// Each cue: [frequency in Hz, start in s, length in s, waveform]. Told apart by ear across a
// loud kitchen: a double ding, a rising run, a falling buzz, a fast siren.
export const CUES = {
  newTicket: [[880, 0, 0.15, "sine"], [880, 0.2, 0.15, "sine"]],
  addOn: [[660, 0, 0.1, "triangle"], [880, 0.12, 0.1, "triangle"], [1175, 0.24, 0.16, "triangle"]],
  void: [[330, 0, 0.22, "square"], [220, 0.25, 0.35, "square"]],
  rush: [[1320, 0, 0.08, "sawtooth"], [990, 0.1, 0.08, "sawtooth"], [1320, 0.2, 0.08, "sawtooth"],
         [990, 0.3, 0.08, "sawtooth"], [1320, 0.4, 0.08, "sawtooth"], [990, 0.5, 0.12, "sawtooth"]],
};

// What was played, newest last (for the operator's console and the tests).
export const played = [];

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
  played.push(name);
  return true;
}
