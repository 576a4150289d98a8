// Run the firmware's MicroPython self-check (harness.py) on the real MicroPython VM
// (the official WebAssembly port, npm @micropython/micropython-webassembly-pyscript).
// Usage: node run.mjs <path to micropython.mjs> <firmware dir> <harness.py> [<data dir>]
// (the optional data dir is copied whole, every file, to /data: a prepared flash)
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const [mjs, firmware, harness, data] = process.argv.slice(2);
const { loadMicroPython } = await import(mjs);
const out = [];
const mp = await loadMicroPython({
  heapsize: 64 * 1024 * 1024,
  stdout: (line) => { out.push(line); console.log(line); },
  stderr: (line) => console.error(line),
});

// copy the firmware into the VM's file system as the package "app" (as on the device)
function copy(src, dest) {
  mp.FS.mkdir(dest);
  for (const name of readdirSync(src)) {
    const p = join(src, name);
    if (statSync(p).isDirectory()) {
      if (name !== "__pycache__") copy(p, dest + "/" + name);
    } else if (name.endsWith(".py")) {
      mp.FS.writeFile(dest + "/" + name, readFileSync(p));
    }
  }
}
function copyAll(src, dest) {
  mp.FS.mkdir(dest);
  for (const name of readdirSync(src)) {
    const p = join(src, name);
    if (statSync(p).isDirectory()) {
      if (name !== "__pycache__") copyAll(p, dest + "/" + name);
    } else {
      mp.FS.writeFile(dest + "/" + name, readFileSync(p));
    }
  }
}
if (data) copyAll(data, "/data");
mp.FS.mkdir("/fw");
copy(firmware, "/fw/app");
mp.FS.mkdir("/flash");
try {
  mp.runPython("import sys\nsys.path.insert(0, '/fw')\n" + readFileSync(harness, "utf8"));
} catch (e) {
  console.error(e.message || e);
  process.exit(1);
}
process.exit(out.includes("ALL OK") ? 0 : 1);
