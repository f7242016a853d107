//! Transport tests of imsg-rpc: scripted peers over `tokio::io::duplex` and small shell children.

#[cfg(test)]
mod peer;
#[cfg(test)]
mod process;
#[cfg(test)]
mod transport;
