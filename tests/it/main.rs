//! fortimock's end-to-end tests, one binary (each extra test binary is another slow link). Every test
//! starts real servers on port 0 and talks HTTPS to them through `e2e::TestSuite`.

mod appliance;
mod bounds;
mod browser;
mod compose;
mod coverage;
mod dashboard;
mod dns;
mod fac;
mod fac_settings;
mod fac_transfer;
mod forticare;
mod forticare_v3;
mod ftm;
mod guard;
mod hardware;
mod health;
mod hostile;
mod journal;
mod malformed;
mod messages;
mod openapi;
mod persistence;
mod phone;
mod push_login;
mod push_relay;
mod replay;
mod reset;
mod scenarios;
mod state;
mod story;
mod testing_crate;
mod tidy;
mod timeline;
mod tls;
mod transfer;
