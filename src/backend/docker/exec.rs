pub async fn exec(_: &bollard::Docker, _: &str, _: &crate::backend::ExecSpec) -> crate::backend::Result<i32> { todo!() }
pub async fn attach_and_start(_: &bollard::Docker, _: &str, _: bool, _: bool) -> crate::backend::Result<i32> { todo!() }
