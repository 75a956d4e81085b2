<?php
// A PHP page, run by a pool of php-cgi processes that callfcgi starts
// and talks to over FastCGI.
header('Content-Type: text/plain; charset=utf-8');
$name = isset($_GET['name']) ? $_GET['name'] : 'world';
echo "Hello, " . htmlspecialchars($name) . ", from PHP " . PHP_VERSION . ".\n";
echo "SCRIPT_NAME=" . $_SERVER['SCRIPT_NAME'] . "\n";
echo "PATH_INFO=" . (isset($_SERVER['PATH_INFO']) ? $_SERVER['PATH_INFO'] : '') . "\n";
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
	echo "POST body: " . file_get_contents('php://input') . "\n";
}
