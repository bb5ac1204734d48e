<?php
// Installs the site once and prints a fresh application password as JSON.
// Run by start.sh with HTTP_HOST set, so Debian's wp-config finds the site's config.
$_SERVER['HTTP_HOST'] = getenv('HTTP_HOST');
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$user = 'aigc';
if (!is_blog_installed()) {
    ob_start();  // the install prints nothing useful; keep stdout for the JSON
    wp_install('AIGC test site', $user, 'aigc@example.com', false, '', wp_generate_password(24));
    ob_end_clean();
}
$account = get_user_by('login', $user);
foreach (WP_Application_Passwords::get_user_application_passwords($account->ID) as $item) {
    if ($item['name'] === 'aigc-tests') {
        WP_Application_Passwords::delete_application_password($account->ID, $item['uuid']);
    }
}
[$password] = WP_Application_Passwords::create_new_application_password(
    $account->ID, ['name' => 'aigc-tests']
);
echo json_encode([
    'url' => home_url(),
    'username' => $user,
    'application_password' => $password,
]), "\n";
