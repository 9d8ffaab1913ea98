//! Guest time alone, under different wasmtime settings: the module at argv[1] takes stdin in
//! 1 MiB chunks through `breaker_stream` (manual clock), and the time of the calls is printed.
//! `bench-engine MODULE VARIANT < workload.ndjson`, VARIANT one of: fuel, nofuel, epoch,
//! fuel-o0 (see `variant`).

use std::io::Read;
use std::time::Instant;

use wasmtime::{Config, Engine, Instance, Module, OptLevel, Store, TypedFunc};

fn variant(name: &str) -> Config {
    let mut config = Config::new();
    config.cranelift_opt_level(OptLevel::Speed);
    match name {
        "fuel" => {
            config.consume_fuel(true);
        }
        "nofuel" => {}
        "fuel-perfmap" => {
            config.consume_fuel(true);
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        "epoch" => {
            config.epoch_interruption(true);
        }
        "fuel-nosignals" => {
            config.consume_fuel(true);
            config.signals_based_traps(false);
        }
        other => panic!("unknown variant {other}"),
    }
    config
}

fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let engine = Engine::new(&variant(&args[2]))?;
    let module = Module::from_file(&engine, &args[1])?;
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let mut store = Store::new(&engine, ());
    let fuel = args[2].starts_with("fuel");
    if fuel {
        store.set_fuel(u64::MAX)?;
    }
    if args[2] == "epoch" {
        store.set_epoch_deadline(u64::MAX);
    }
    let instance = Instance::new(&mut store, &module, &[])?;
    let options: TypedFunc<i32, i32> =
        instance.get_typed_func(&mut store, "breaker_set_options")?;
    options.call(&mut store, 1)?;
    let alloc: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "breaker_alloc")?;
    let stream: TypedFunc<(i32, i32, i64), i64> =
        instance.get_typed_func(&mut store, "breaker_stream")?;
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    let chunk = 1 << 20;
    let ptr = alloc.call(&mut store, chunk as i32)?;
    let mut out = 0usize;
    let started = Instant::now();
    for piece in input.chunks(chunk) {
        if fuel {
            store.set_fuel(u64::MAX)?;
        }
        memory.write(&mut store, ptr as usize, piece)?;
        let packed = stream.call(&mut store, (ptr, piece.len() as i32, 0))? as u64;
        out += (packed & 0xffff_ffff) as usize;
    }
    let took = started.elapsed();
    println!("{} {:.3} s ({out} bytes out)", args[2], took.as_secs_f64());
    Ok(())
}
