# frozen_string_literal: true

require_relative 'test_helper'
require 'erb'

# haproxy.cfg.erb rendered with the providers the recipe's lazy variables
# pass in must give the checked-in fixture for two registered providers.
class TemplateTest < Minitest::Test
  include TestHelper

  COOKBOOK = File.expand_path('..', __dir__)
  TEMPLATE = File.join(COOKBOOK, 'templates/default/haproxy.cfg.erb')
  FIXTURE = File.join(__dir__, 'fixtures/haproxy.cfg')

  def test_haproxy_backend_from_two_providers
    register('app', 8080, 'app1.example.com', '--address', '10.0.1.1', '--attr', 'zone=us-east-1a', '--id', 'app1')
    register('app', 8080, 'app2.example.com', '--address', '10.0.1.2', '--attr', 'zone=us-east-1b', '--id', 'app2',
             '--weight', '2')
    providers = Host.new.all_providers_for_service('app', at_least: 2)
    vars = { service: 'app', bind: '*:80', check_path: '/health', providers: providers }
    got = Host.new(vars).render(TEMPLATE)
    File.write(FIXTURE, got) if ENV['UPDATE_FIXTURES'] == '1'
    assert_equal File.read(FIXTURE), got
  end

  def test_no_provider_is_said_so
    got = Host.new(service: 'absent', bind: '*:80', providers: []).render(TEMPLATE)
    assert_match(/^    # no provider of absent is registered$/, got)
  end
end
