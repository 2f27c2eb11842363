#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) on .npy inputs and writes each
// output as OUTDIR/<output name>.npy. The ONNX tests compare these with Quant Space's results.
//
//   node tools/onnx_run.js MODEL.onnx OUTDIR [INPUT=FILE.npy]...
//
// onnxruntime-node is looked up in .npm-tools/ beside tools/ (scripts/install-deps.sh puts it
// there) or wherever NODE_PATH says.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const local = path.join(__dirname, '..', '.npm-tools', 'node_modules', 'onnxruntime-node');
  try {
    return require(local);
  } catch (e) {
    return require('onnxruntime-node');
  }
}

// numpy descr <-> ONNX Runtime tensor type and typed array
const kinds = {
  '<f4': ['float32', Float32Array], '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array],
  '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array], '<f2': ['float16', Uint16Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(file + ': not an .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(file + ': Fortran order');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim())
      .filter(s => s.length).map(Number);
  const kind = kinds[descr];
  if (!kind) throw new Error(file + ': dtype ' + descr + ' is not handled');
  const data = buf.subarray(start + headerLen);
  const copy = new Uint8Array(data.length);
  copy.set(data);
  let values = new kind[1](copy.buffer, 0, copy.length / kind[1].BYTES_PER_ELEMENT);
  if (kind[0] === 'bool') values = Uint8Array.from(values, v => (v ? 1 : 0));
  return {type: kind[0], shape, values};
}

function writeNpy(file, tensor) {
  const descr = Object.keys(kinds).find(d => kinds[d][0] === tensor.type);
  if (!descr) throw new Error('output type ' + tensor.type + ' is not handled');
  const dims = tensor.dims.map(String);
  const shape = '(' + dims.join(', ') + (dims.length === 1 ? ',' : '') + ')';
  let header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ', }';
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

async function main() {
  const [model, outDir, ...feeds] = process.argv.slice(2);
  if (!model || !outDir) {
    console.error('usage: node tools/onnx_run.js MODEL.onnx OUTDIR [INPUT=FILE.npy]...');
    process.exit(2);
  }
  const ort = loadOrt();
  // Basic optimizations only: the extended ones fuse DequantizeLinear + MatMul / Conv into
  // integer kernels, which compute other values than the graph as written.
  const session = await ort.InferenceSession.create(
      model, {executionProviders: ['cpu'], graphOptimizationLevel: 'basic', logSeverityLevel: 3});
  const inputs = {};
  for (const f of feeds) {
    const eq = f.indexOf('=');
    const t = readNpy(f.slice(eq + 1));
    inputs[f.slice(0, eq)] = new ort.Tensor(t.type, t.values, t.shape);
  }
  const results = await session.run(inputs);
  fs.mkdirSync(outDir, {recursive: true});
  for (const name of session.outputNames) writeNpy(path.join(outDir, name + '.npy'), results[name]);
}

main().catch(e => {
  console.error('error: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
