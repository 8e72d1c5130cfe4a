//! The wallet service's request and response bodies.
