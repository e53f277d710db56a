//! Host bindings generated from `wit/source@0.1.0`.
wasmtime::component::bindgen!({
    path: "../wit/source@0.1.0",
    world: "source-connector",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::tributary::source::{http, logging, types};
pub use exports::tributary::source::source as guest;
