//! Host bindings generated from `wit/extractor@0.1.0` (exports only: the world imports nothing
//! but WASI, which gets an empty context).
wasmtime::component::bindgen!({
    path: "../wit/extractor@0.1.0",
    world: "extractor",
    exports: { default: async },
});

pub use exports::tributary::extractor::extract as guest;
