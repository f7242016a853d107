//! End-to-end tests: imsg-rpc against the simulator, spawned as a real `imsg` process.

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod fixture;
#[cfg(test)]
mod remote;
#[cfg(test)]
mod survival;
