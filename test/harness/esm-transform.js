/**
 * Jest's own module loader cannot require() an ES module on Node 20 (Node itself can), and typebox
 * 1.x ships only ES modules: this turns them into CommonJS for the tests, nothing else.
 */
const { createHash } = require('node:crypto');
const ts = require('typescript');

module.exports = {
  process(source, filename) {
    const { outputText } = ts.transpileModule(source, {
      fileName: filename.replace(/\.mjs$/, '.js'),
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    return { code: outputText };
  },
  getCacheKey(source, filename) {
    return createHash('sha256').update(ts.version).update('\0').update(filename).update('\0').update(source).digest('hex');
  },
};
