//! The smoke test: every endpoint runs end to end on a backend.
use crate::*;
use serde_json::json;

pub async fn every_request_kind_runs(b: &dyn Backend) {
    let store = b.fresh().await;
    let mut a = ev("a", "screen_view", "2024-04-01T10:00:00.000Z");
    a.country = "SE".into();
    a.profile_id = "u1".into();
    a.session_id = "s1".into();
    let mut sign_up = ev("b", "sign_up", "2024-04-01T11:00:00.000Z");
    sign_up.profile_id = "u1".into();
    sign_up.session_id = "s1".into();
    sign_up.properties = props(&[("total", "19.99")]);
    store.insert_events(&[a, sign_up]).await.unwrap();

    let c = chart(
        &store,
        r#"events=[{"name":"screen_view"},{"name":"sign_up","segment":"property_sum","property":"properties.total"}]&breakdowns=[{"name":"country"}]&startDate=2024-04-01&endDate=2024-04-02&previous=true"#,
        chrono_tz::UTC,
        "2024-04-03T00:00:00Z",
    )
    .await;
    println!("{}", serde_json::to_string_pretty(&c).unwrap());
    let f = funnel(
        &store,
        r#"events=[{"name":"screen_view"},{"name":"sign_up"}]&startDate=2024-04-01&endDate=2024-04-02"#,
        chrono_tz::UTC,
        "2024-04-03T00:00:00Z",
    )
    .await;
    assert_eq!(f["steps"][1]["count"], json!(1));
    let e = events(
        &store,
        "includes=properties,profile",
        chrono_tz::UTC,
        "2024-04-03T00:00:00Z",
    )
    .await;
    println!("{}", serde_json::to_string_pretty(&e).unwrap());
    assert_eq!(e["meta"]["totalCount"], json!(2));
}
