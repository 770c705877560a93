# frozen_string_literal: true

# Runs every test of the cookbook in one process (one minitest summary).
Dir[File.join(__dir__, '*_test.rb')].sort.each { |f| require f }
