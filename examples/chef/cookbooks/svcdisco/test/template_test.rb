# frozen_string_literal: true

require_relative 'test_helper'
require 'erb'

# haproxy.cfg.erb rendered through the library (as Chef's template resource
# would, with the library mixed into the template context) must give the
# checked-in fixture for two registered providers.
class TemplateTest < Minitest::Test
  include TestHelper

  COOKBOOK = File.expand_path('..', __dir__)
  TEMPLATE = File.join(COOKBOOK, 'templates/default/haproxy.cfg.erb')
  FIXTURE = File.join(__dir__, 'fixtures/haproxy.cfg')

  def test_haproxy_backend_from_two_providers
    register('app', 8080, 'app1.example.com', '--address', '10.0.1.1', '--attr', 'zone=us-east-1a', '--id', 'app1')
    register('app', 8080, 'app2.example.com', '--address', '10.0.1.2', '--attr', 'zone=us-east-1b', '--id', 'app2',
             '--weight', '2')
    vars = { service: 'app', bind: '*:80', check_path: '/health', options: { at_least: 2 } }
    got = Host.new(vars).render(TEMPLATE)
    File.write(FIXTURE, got) if ENV['UPDATE_FIXTURES'] == '1'
    assert_equal File.read(FIXTURE), got
  end

  def test_haproxy_guard_keeps_a_short_list_out
    vars = { service: 'absent', bind: '*:80', options: { at_least: 1 } }
    assert_raises(Svcdisco::NotEnoughProvidersError) { Host.new(vars).render(TEMPLATE) }
  end
end
