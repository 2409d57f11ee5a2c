-- LÖVE configuration of the reaction-time experiment (examples/love/main.lua).
function love.conf(t)
  t.identity = "cohort-reaction-time"
  t.version = "11.4"
  t.console = false
  t.window.title = "cohort — reaction time"
  t.window.width = 640
  t.window.height = 360
  t.window.vsync = 1
  -- what a reaction-time task does not use (and what a headless run under xvfb lacks)
  t.modules.audio = false
  t.modules.sound = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.video = false
end
